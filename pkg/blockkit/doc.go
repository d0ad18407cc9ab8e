// Package blockkit checks a rendered Slack message against Block Kit's
// documented limits (block count, text lengths, element counts, required
// fields), so a template that Slack would reject is reported clearly when a
// workflow is saved or before a message is sent, never as a silent
// invalid_blocks from Slack.
package blockkit

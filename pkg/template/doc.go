// Package template renders workflow step templates with Handlebars
// (github.com/mailgun/raymond/v2): a step's text content and its Slack
// blocks, a JSON document whose string values are templates. Compiled
// templates are cached by source.
package template

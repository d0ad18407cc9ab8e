// Package subscriber stores an environment's subscribers (the recipients of
// notifications) and their per-provider channel credentials. Webhook URLs are
// encrypted at rest; the package validates profiles the way the API reports them.
package subscriber

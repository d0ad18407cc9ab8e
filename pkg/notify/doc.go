// Package notify is the contract between Herald's delivery worker and its
// providers: the Sender interface every provider implements, the Message it
// sends and the classified Error that tells the worker whether to retry.
// Providers (in the providers module) import this package; pkg never imports
// providers.
package notify

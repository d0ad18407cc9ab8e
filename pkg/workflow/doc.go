// Package workflow stores workflows (Novu's notification templates): a
// trigger identifier unique per environment and ordered steps, each with a
// Handlebars template compiled when the workflow is saved. Lookups by trigger
// identifier, the trigger API's hot path, are cached and invalidated on change.
package workflow

// Package filter evaluates Novu's workflow step filters against the data of
// one delivery (the trigger payload and the subscriber). A step's filters are
// groups of conditions combined with AND or OR; Validate reports problems when
// a workflow is saved and Evaluate decides, and explains, whether a step runs.
package filter

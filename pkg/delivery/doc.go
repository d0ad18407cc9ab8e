// Package delivery is Herald's delivery pipeline behind the trigger API: the
// asynq task types and their constructors, the worker's handlers (trigger
// fan-out and per-message delivery through a notify.Sender) and the delivery
// log (notifications and messages with their execution details).
//
// Costs per delivery, by design: the trigger task reads subscribers in
// batches ($in), writes notifications and messages with InsertMany and
// enqueues one deliver task per message; the deliver task carries everything
// it needs (rendered text and blocks, provider, the encrypted webhook URL),
// reads nothing from the database and writes the message once ($set status,
// $push execution details).
package delivery

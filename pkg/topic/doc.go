// Package topic stores an environment's topics (named groups of subscribers
// that a trigger can address with {type: "Topic", topicKey}) and their
// members. Members live in their own collection, one document per
// (topic, subscriber), so a topic with tens of thousands of members is never
// one large document and can be read in keyset-paginated batches (Members).
package topic

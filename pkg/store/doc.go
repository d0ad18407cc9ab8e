// Package store connects Herald to its document database (MongoDB, or FerretDB
// speaking MongoDB's wire protocol), names the collections and creates their
// indexes. Domain packages own the documents; this package owns the connection.
package store

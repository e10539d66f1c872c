// Package store holds what the implementations share: store/local (embedded, durable, one
// node) and store/redis (standalone, Sentinel or Cluster) keep call state, File metadata and the
// outbox, and both pass one conformance suite. It knows nothing about verbs.
package store

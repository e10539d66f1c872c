// Package redis is the shared store on go-redis UniversalClient (a URL, Sentinel or Cluster).
//
// Status: to be built with the Redis issue.
package redis

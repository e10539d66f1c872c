// Package redis is the shared store: call state, File metadata and the outbox in Redis
// (standalone, Sentinel or Cluster, through go-redis's UniversalClient), so that several
// pbxbridge instances share state and one instance's death loses none of its callbacks. It
// implements adapter.Store and adapter.Outbox with the semantics of store/local, and passes the
// same conformance suite (store/storetest) on all three topologies. Redis 7.0 is the floor:
// the scripts use EVAL/EVALSHA (not functions) and commands Redis 7.0 has.
//
// # Key layout
//
// Every key starts with Options.Prefix (P, default "pbxbridge:"). The part in braces is the
// Redis Cluster hash tag: keys with the same tag are in the same slot, so one Lua script (or
// MULTI) may use them together. Times are Unix microseconds where Redis compares them (scores,
// the "nu" and "lu" fields) and RFC 3339 text with nanoseconds where they are only carried (so
// they round-trip exactly); the zero time is "" and scores 0.
//
//	P{call:<id>}:state        hash  v = version, d = call record (JSON)
//
//	P{files}:f:<sid>          hash  d = file record (JSON), c = container sid, b = bytes
//	P{files}:all              zset  every sid, score 0                 (ListFiles, lexicographic)
//	P{files}:c:<container>    zset  the container's sids, score 0      (ListFiles by container)
//	P{files}:usage            hash  container sid -> bytes charged     (quota, ContainerUsage)
//	P{files}:expiry           zset  sid scored by ExpiresAt            (ExpiredFiles; expiring files only)
//
//	P{outbox}:d               hash  id -> a queued entry's immutable record (binary, codec.go)
//	P{outbox}:m               hash  id -> its mutable state: attempts, lease (owner, its end in
//	                                µs, the token of the Claim that leased it), m = 1 once its
//	                                call has a queue (below), call, seq, NextAt (µs and text),
//	                                last error; one string (encodeState in outbox.go)
//	P{outbox}:head            hash  call -> the id of its head (lowest Seq queued entry)
//	P{outbox}:ready           zset  each call's head, scored by the time it becomes claimable
//	                                (its NextAt, or the call's latest lease end; see outbox.go)
//	P{outbox}:q:<call>        zset  the call's queued entry ids scored by Seq  } only while the
//	P{outbox}:l:<call>        zset  the call's leased entry ids by LeaseEnd    } call has had two
//	                                                                             entries queued
//	P{outbox}:x, P{outbox}:xm hash  id -> a dead letter's record and state (with DeadAt)
//	P{outbox}:dl              zset  dead letter ids scored by DeadAt   (ListDead order)
//	P{outbox}:n               int   count of queued entries            (Pending)
//
// An entry has no key of its own: it is a field of d and one of m, so that a script handles
// all its entries with one command per hash (an Enqueue of 100 entries of new calls runs
// about ten commands in all, a Claim five, an Ack group six), where a key per entry cost each
// entry about four commands of its own. A command run by a script costs redis-server a few
// microseconds whatever its size, which on the outbox's hot path (one Enqueue, Claim and Ack
// per callback) was most of its cost. The earlier layout (P{outbox}:e:<id> and x:<id>, one
// hash per entry, under the same head, ready, dl and n keys) is refused by Open while it
// holds entries or dead letters (ErrOldLayout; docs/operators.md: drain before upgrading).
//
//	P{lease:<name>}:holder    hash  owner, epoch; expires with the lease (PEXPIRE: Redis's clock)
//	P{lease:<name>}:epoch     int   the lease's fencing counter, kept across holders (lease.go)
//
// # Atomicity, and why the tags are where they are
//
// A call's state is one key, tagged per call, so calls spread over a Cluster's masters; its
// compare-and-set is a Lua script on that key. ListCalls scans the call keys (on every master
// of a Cluster): it serves reconciliation, not a hot path.
//
// A file's quota check and charge must be atomic with the file's creation, update (which may
// move it between containers) or deletion, so every file key shares the {files} tag and each
// of these is one script. File writes are one per recording, so one slot is ample.
//
// The outbox's Claim must read the ready set and lease the heads of any calls in one atomic
// step, and a Cluster runs a script on one slot only: so every outbox key shares the {outbox}
// tag, and Enqueue, Claim, Ack, Retry, Dead and Replay are each one script. The scripts build
// per-call and per-entry key names from the prefix (they cannot be declared before the ready
// set is read); they are always in the script's own slot. The outbox is therefore served by one
// master of a Cluster (and its replicas): a Claim costs O(log n + claimed) whatever the backlog.
// Spreading it would mean sharding the outbox into several tags, each claimed in turn.
//
// # Durability
//
// Redis acknowledges a write once it is in memory. For "an entry is persisted before it is
// sent" to hold across a Redis restart, run Redis with appendonly yes (appendfsync everysec
// loses at most a second of writes on a power loss; always loses none); with Sentinel, a
// failover can lose the writes the replica had not received.
package redis

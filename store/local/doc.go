// Package local is the embedded store: durable call state, File metadata and the outbox in one
// bbolt file in a local directory, with no setup. It implements adapter.Store and
// adapter.Outbox for one process on one node (the file is locked); several instances share
// state through store/redis instead. It passes the conformance suite in store/storetest.
//
// # Bucket layout
//
// Keys marked "prefix(x)" start with x's length as 2 bytes big-endian, then x, so that one id's
// key range never contains another's. Times are 8 bytes big-endian, ordered (see timeBits).
//
//	meta                 "schema" -> uint64; "pending" -> int64 count of queued outbox entries
//	calls                call id -> callRecord (JSON)
//	files                file sid -> fileRecord (JSON)
//	files_by_container   prefix(container sid) + file sid -> nil       (ListFiles by container)
//	files_by_expiry      ExpiresAt + file sid -> nil                   (ExpiredFiles; only files that expire)
//	containers           container sid -> int64 bytes charged          (quota, ContainerUsage)
//	outbox               entry id -> entryRecord (JSON)                (queued entries, leased or not)
//	outbox_by_call       prefix(call id) + Seq + entry id -> NextAt    (per-call order; first = head)
//	outbox_leased        prefix(call id) + entry id -> LeaseEnd        (every entry with an owner)
//	outbox_head          call id -> the call's key in outbox_due
//	outbox_due           claimable-at + head entry id -> nil           (one key per call with entries)
//	outbox_dead          entry id -> entryRecord (JSON)                (dead letters)
//	outbox_dead_by_time  DeadAt + entry id -> nil                      (ListDead order)
//	leases               lease name -> leaseRecord (JSON)              (created on first use; lease.go)
//
// Every index changes in the transaction that changes what it indexes: a file's bytes are
// charged to its container (and the quota checked) in the transaction that creates, updates or
// deletes it, and outbox_due is recomputed for a call in the transaction that changes its
// entries or leases. How Claim uses outbox_due is explained in outbox.go.
//
// # Concurrency
//
// Every method is safe for concurrent use. Reads are bbolt read transactions, which run in
// parallel. Writes are queued to one writer goroutine, which commits whatever is queued
// together (group commit): one fsync serves many concurrent Acks, and a lone write is not
// delayed.
package local

// Package webhook sends the HTTP requests the bridge makes to applications (callbacks.md):
// document fetches and callbacks, with their timeouts, retries, redirects, headers and
// signatures.
//
//   - Client sends one logical request: Do runs the URL's whole retry policy for requests a
//     call waits for (it implements adapter.Sender as Send); Attempt makes a single attempt
//     for the outbox worker. Failures are *DeliveryError values that unwrap to one class
//     sentinel (ErrConnect, ErrReadTimeout, ErrConnection, ErrStatus, ErrTooLarge,
//     ErrRedirect, ErrCanceled), plus ErrTotalTimeout when tt ended the sequence.
//   - Worker delivers adapter.Outbox entries: claim with a lease, one attempt, then Ack,
//     Retry after Backoff, or Dead.
//   - Sign, Verify, SignPlivoV3 and VerifyPlivoV3 are the two signature schemes, for the
//     sender and for applications' tests.
//
// Secrets (Plivo auth tokens, signing secrets, Basic auth in URLs) never appear in an error,
// a log line or the outbox's LastError: URLs are shown as scheme://host/path only.
package webhook

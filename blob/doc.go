// Package blob stores recording bytes behind one interface (adapter.Blob): Dir, a local
// directory, by default, and S3, Google Cloud Storage and Azure Blob Storage. It knows nothing
// about calls. Every backend accepts the same keys (CheckKey), so a File's BlobKey means the
// same thing whichever backend holds it.
//
// Dir lives in this package rather than in a sub-package because it needs nothing beyond the
// standard library and is the default: the cloud backends, which bring their SDKs, go in
// sub-packages (blob/s3, blob/gcs, blob/azure) so that a binary that does not use them does not
// link them. Every backend passes the one conformance suite of blob/blobtest, the cloud ones
// against an emulator on loopback; their errors are RemoteErrors, which classify the failure
// (adapter.ErrNotFound, ErrDenied, ErrUnavailable, ErrInvalidRange) and never carry a URL or
// header, so never a credential.
package blob

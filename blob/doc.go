// Package blob stores recording bytes behind one interface: a local directory by default, and
// S3, Google Cloud Storage and Azure Blob Storage. It knows nothing about calls.
//
// Status: local with the Asterisk issue, the cloud stores with the storage issue.
package blob

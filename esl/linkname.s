// This empty file lets socket.go declare eslNewConnection without a body (go:linkname):
// the compiler accepts body-less functions only in packages with assembly files.

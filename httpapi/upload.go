package httpapi

import (
	"crypto/hmac"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pbxbridge/pbxbridge/config"
)

// Upload is one FreeSWITCH whose recordings arrive over HTTP (record_transfer http):
// mod_http_cache PUTs each file, when FreeSWITCH closes it, to
// /v1/freeswitch/<pbx>/recordings/<signature>/<file> (config.FreeSWITCH.UploadPath).
type Upload struct {
	PBX      string        // freeswitch[].name
	Dir      string        // where uploads land: its record_dir, where esl waits for them
	Token    config.Secret // upload_token; never logged
	MaxBytes int64         // upload_max_bytes
}

// uploadName is a file name esl generates: letters, digits, '-', '_' and one extension.
func uploadName(s string) bool {
	base, ext, ok := strings.Cut(s, ".")
	if !ok || base == "" || len(s) > 200 || (ext != "wav" && ext != "ul") {
		return false
	}
	return strings.Trim(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == ""
}

// upload stores one recording FreeSWITCH PUTs. The file is written to a temporary name in
// the directory, synced, then linked to its name, so esl never reads half a file; an
// existing file is never replaced (409). Answers: 201 stored; 401 bad signature; 404
// unknown PBX; 400 bad name; 409 exists; 413 too large. The signature in the path is never
// logged (errors here are answered, not passed to errorHandler, which logs paths).
func (s *Server) upload(c echo.Context) error {
	pbx, sig, name := c.Param("pbx"), c.Param("sig"), c.Param("name")
	var u *Upload
	for i := range s.d.Uploads {
		if s.d.Uploads[i].PBX == pbx {
			u = &s.d.Uploads[i]
		}
	}
	if u == nil {
		return c.JSON(http.StatusNotFound, map[string]string{"error": "no FreeSWITCH named " + pbx + " uploads recordings"})
	}
	log := s.d.Log.With("pbx", pbx, "file", name)
	if !uploadName(name) {
		log = s.d.Log.With("pbx", pbx)
		log.Warn("recording upload refused: bad file name")
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "name: must be letters, digits, '-' or '_' with a .wav or .ul extension"})
	}
	if !hmac.Equal([]byte(sig), []byte(config.UploadSignature(u.Token, pbx, name))) {
		log.Warn("recording upload refused: bad signature")
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": ErrUnauthorized.Error()})
	}
	req := c.Request()
	if req.ContentLength > u.MaxBytes {
		log.Warn("recording upload refused: too large", "bytes", req.ContentLength, "max", u.MaxBytes)
		return c.JSON(http.StatusRequestEntityTooLarge, map[string]string{"error": "larger than upload_max_bytes"})
	}
	final := filepath.Join(u.Dir, name)
	if _, err := os.Lstat(final); err == nil {
		log.Warn("recording upload refused: the file exists")
		return c.JSON(http.StatusConflict, map[string]string{"error": "file exists"})
	}
	if err := os.MkdirAll(u.Dir, 0o770); err != nil {
		log.Error("recording upload: record_dir", "err", err)
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": "cannot store"})
	}
	tmp, err := os.CreateTemp(u.Dir, ".upload-*")
	if err != nil {
		log.Error("recording upload: temporary file", "err", err)
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": "cannot store"})
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, http.MaxBytesReader(c.Response(), req.Body, u.MaxBytes))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		log.Warn("recording upload refused: too large", "max", u.MaxBytes)
		return c.JSON(http.StatusRequestEntityTooLarge, map[string]string{"error": "larger than upload_max_bytes"})
	case err != nil:
		log.Warn("recording upload failed", "bytes", n, "err", err)
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "upload interrupted"})
	}
	// link, not rename: it never replaces a file that appeared meanwhile
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, os.ErrExist) {
			log.Warn("recording upload refused: the file exists")
			return c.JSON(http.StatusConflict, map[string]string{"error": "file exists"})
		}
		log.Error("recording upload: store", "err", err)
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": "cannot store"})
	}
	log.Info("recording uploaded", "bytes", n)
	return c.NoContent(http.StatusCreated)
}

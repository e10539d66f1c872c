package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// fileObject is a stored file in CarrierX's File shape (storage.md), so that an application
// ported from CarrierX reads pbxbridge's answer with the code it has.
type fileObject struct {
	FileSID               string  `json:"file_sid"`
	ContainerSID          string  `json:"container_sid"`
	Name                  string  `json:"name"`
	FileAccessName        string  `json:"file_access_name"`
	ContentFormat         string  `json:"content_format"`
	MIMEType              string  `json:"mime_type"`
	ContentDuration       float64 `json:"content_duration"`
	FileBytes             int64   `json:"file_bytes"`
	DateModified          string  `json:"date_modified"`
	IntegerKey1           *int64  `json:"integer_key_1"`
	IntegerKey2           *int64  `json:"integer_key_2"`
	StringKey1            *string `json:"string_key_1"`
	StringKey2            *string `json:"string_key_2"`
	StringKey3            *string `json:"string_key_3"`
	StringKey4            *string `json:"string_key_4"`
	LifecycleAction       string  `json:"lifecycle_action"`
	LifecycleTTL          int64   `json:"lifecycle_ttl"`
	Publish               string  `json:"publish"`
	PublishURI            string  `json:"publish_uri"`
	ParentFileSID         *string `json:"parent_file_sid"`
	ContentClassification string  `json:"content_classification"`
	Type                  string  `json:"type"`
}

func (s *Server) fileObject(f adapter.File) fileObject {
	ttl := int64(-1)
	if f.LifecycleTTL > 0 {
		ttl = int64(f.LifecycleTTL / time.Second)
	}
	action := string(f.Lifecycle)
	if action == "" {
		action = "no_action"
	}
	name := f.SID + "." + f.Format
	return fileObject{
		FileSID: f.SID, ContainerSID: f.ContainerSID, Name: orName(f.Name, name), FileAccessName: name,
		ContentFormat: f.Format, MIMEType: f.MIMEType, ContentDuration: f.Duration.Seconds(), FileBytes: f.Bytes,
		DateModified: f.Modified.UTC().Format(time.RFC3339), IntegerKey1: f.IntegerKey1, IntegerKey2: f.IntegerKey2,
		StringKey1: f.StringKey1, StringKey2: f.StringKey2, LifecycleAction: action, LifecycleTTL: ttl,
		Publish: "file_sid", PublishURI: s.FileURL(f.SID, ""), ContentClassification: "media", Type: "file",
	}
}

func orName(n, def string) string {
	if strings.TrimSpace(n) == "" {
		return def
	}
	return n
}

// requireToken admits requests with the API token. Without a configured token the metadata
// API is closed: signed links grant one file's bytes, not the store.
func (s *Server) requireToken(c echo.Context) error {
	if s.d.APIToken == "" || !s.tokenOK(c) {
		return ErrUnauthorized
	}
	return nil
}

// getFile is GET /core/v2/storage/files/{sid}: a file's metadata, as CarrierX's Storage API
// answers it.
func (s *Server) getFile(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	f, err := s.d.Store.GetFile(c.Request().Context(), c.Param("sid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.fileObject(f))
}

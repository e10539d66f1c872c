// Package config is pbxbridge's one typed configuration: a YAML file with ${ENV} expansion,
// defaults for everything, and validation that names the field at fault. Nothing else in
// pbxbridge reads configuration files or tuning variables.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pbxbridge/pbxbridge/translate"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid configuration")

// FieldError names the field that is wrong and the rule it breaks.
type FieldError struct {
	Field string // dotted path, e.g. apps[0].url
	Rule  string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Config is the whole configuration. Field comments give the default and the range.
type Config struct {
	// Listen is the HTTP API address (files, media for the PBX, health). Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// PublicURL is how applications and the PBX reach the HTTP API: the base of RecordingUrl
	// and of media URLs. Default http://<listen>.
	PublicURL string `yaml:"public_url"`
	// DataDir holds the embedded store and the local containers. Default ./pbxbridge-data.
	DataDir string `yaml:"data_dir"`
	// APIToken authenticates the files API (Authorization: Bearer). Empty = files only through
	// signed links. Never logged.
	APIToken Secret `yaml:"api_token"`
	// LinkSecret signs the /f/{sid} links put in RecordingUrl. Default: generated at first start
	// and kept in DataDir.
	LinkSecret Secret `yaml:"link_secret"`
	// LinkTTL is how long a signed recording link stays valid. Default 168h; 1m–8760h.
	LinkTTL Duration `yaml:"link_ttl"`

	Asterisk []Asterisk `yaml:"asterisk"`
	// FreeSWITCH lists FreeSWITCH nodes reached over the event socket. When it is set and
	// asterisk is not, no default Asterisk is added.
	FreeSWITCH []FreeSWITCH `yaml:"freeswitch"`
	Apps       []App        `yaml:"apps"`
	// DefaultApp handles calls that name no application and dial no configured number.
	// Default: the first app.
	DefaultApp string      `yaml:"default_app"`
	Containers []Container `yaml:"containers"`
	Recording  Recording   `yaml:"recording"`
	Outbox     Outbox      `yaml:"outbox"`
	Store      Store       `yaml:"store"`
	// HA divides the PBXs between instances that share a Redis store (docs/operators.md).
	HA HA `yaml:"ha"`
	// Transcription: the speech-to-text provider and its jobs (transcription.go).
	Transcription Transcription `yaml:"transcription"`
	// ExternalStorage: uploads to the store a Record's attributes name (storage.go).
	ExternalStorage ExternalStorage `yaml:"external_storage"`
	// Dashboard: what the operator dashboard keeps (dashboard.go).
	Dashboard Dashboard `yaml:"dashboard"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text (logfmt-like key=value lines) or json (one JSON object per line, for
	// log collectors). Default text; `pbxbridge serve --log-format` overrides it. Every line
	// about a call carries call_id, pbx and app.
	LogFormat string `yaml:"log_format"`
	// Shutdown bounds the graceful stop on SIGTERM (ops.go).
	Shutdown Shutdown `yaml:"shutdown"`
	// MetricsPublic serves /metrics without credentials. Default false: when api_token is
	// set, /metrics needs it (Authorization: Bearer); without api_token /metrics is open.
	MetricsPublic bool `yaml:"metrics_public"`
}

// HA is how instances sharing a Redis store divide the PBXs: each PBX is served by the one
// instance that holds its lease, which it renews; a standby polls and takes the lease within
// about lease_ttl of the owner's death. Unused with the embedded store (one process).
type HA struct {
	// Instance names this instance in the PBX leases and logs; unique among the instances.
	// Default: host name and process id.
	Instance string `yaml:"instance"`
	// LeaseTTL is how long a PBX lease lasts without renewal: the longest a dead owner's PBX
	// goes unserved. Default 10s; 1s–5m.
	LeaseTTL Duration `yaml:"lease_ttl"`
	// LeaseRenew is how often the owner renews its leases and a standby tries to take them.
	// Default lease_ttl/4; at least 100ms and at most lease_ttl/3, so that a renewal can fail
	// twice before the lease runs out.
	LeaseRenew Duration `yaml:"lease_renew"`
}

// Asterisk is one Asterisk connection over ARI.
type Asterisk struct {
	Name string `yaml:"name"` // default "asterisk"
	// URL is the ARI REST base, e.g. http://127.0.0.1:8088/ari (the default).
	URL string `yaml:"url"`
	// WebsocketURL defaults to URL with ws(s):// and /events.
	WebsocketURL string `yaml:"websocket_url"`
	Username     string `yaml:"username"` // default pbxbridge
	Password     Secret `yaml:"password"` // required
	// Application is the Stasis application name. Default pbxbridge.
	Application string `yaml:"application"`
	// ConnectTimeout bounds the first connection and each reconnect attempt. Default 10s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// CommandTimeout bounds every REST call (the library has none). Default 5s.
	CommandTimeout Duration `yaml:"command_timeout"`
	// Dial makes Dial targets into dial strings (asterisk_dial.go); defaults suit the test
	// Asterisk's PJSIP endpoint "trunk".
	Dial AsteriskDial `yaml:"dial"`
}

// FreeSWITCH is one FreeSWITCH node. Calls arrive on Listen from the dialplan's
// `socket <listen> async full` (outbound mode); Inbound is mod_event_socket for commands that
// belong to no call's socket and for the health check.
type FreeSWITCH struct {
	Name string `yaml:"name"` // default "freeswitch"
	// Listen is where FreeSWITCH's outbound sockets connect. Default 127.0.0.1:8084.
	Listen string `yaml:"listen"`
	// Inbound is mod_event_socket's host:port, e.g. 127.0.0.1:8021. Empty = no inbound
	// connection (Ready then only reflects the listener).
	Inbound string `yaml:"inbound"`
	// Password is event_socket.conf's password; required with Inbound. Never logged.
	Password Secret `yaml:"password"`
	// RecordDir is the directory FreeSWITCH records into and pbxbridge reads from: the same
	// path on both sides (same host or a shared volume). Default <data_dir>/freeswitch.
	RecordDir string `yaml:"record_dir"`
	// ConnectTimeout bounds each inbound dial and authentication. Default 10s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// CommandTimeout bounds every command (the library has no deadline of its own). Default 5s.
	CommandTimeout Duration `yaml:"command_timeout"`
	// RecordTransfer is how recordings reach pbxbridge: "shared" (default; FreeSWITCH writes
	// into RecordDir, which both sides mount at the same path) or "http" (FreeSWITCH records
	// to http_cache://<upload_url>/..., and mod_http_cache PUTs each file to pbxbridge when it
	// is closed; pbxbridge stores uploads in RecordDir, which FreeSWITCH then never sees).
	RecordTransfer string `yaml:"record_transfer"`
	// UploadURL is pbxbridge's HTTP API as FreeSWITCH reaches it, e.g. http://10.0.0.5:8080;
	// required with record_transfer http.
	UploadURL string `yaml:"upload_url"`
	// UploadToken authenticates uploads: each upload URL carries an HMAC of the file name
	// keyed with it (mod_http_cache cannot send headers). At least 16 characters; required
	// with record_transfer http. Never logged.
	UploadToken Secret `yaml:"upload_token"`
	// UploadTimeout is how long after a recording ends pbxbridge waits for its upload.
	// Default 30s; 1s to 1h.
	UploadTimeout Duration `yaml:"upload_timeout"`
	// UploadMaxBytes refuses larger uploads. Default 536870912 (512 MiB: about 9 hours of
	// 8 kHz 16-bit mono); at least 1 MiB.
	UploadMaxBytes int64 `yaml:"upload_max_bytes"`
	// Dial holds the dial-string templates of Dial targets (dial.go).
	Dial DialStrings `yaml:"dial"`
}

// Ways recordings reach pbxbridge from FreeSWITCH (FreeSWITCH.RecordTransfer).
const (
	RecordShared = "shared"
	RecordHTTP   = "http"
)

// App is one application: where its documents come from and how it is reached.
type App struct {
	Name    string            `yaml:"name"`    // required, unique
	Dialect translate.Dialect `yaml:"dialect"` // flexml or plivo; required
	// URL is the first document's URL (answer URL). Required, http or https.
	URL    string `yaml:"url"`
	Method string `yaml:"method"` // GET or POST; default POST
	// StatusURL receives the call's status/hangup callback. Optional.
	StatusURL    string `yaml:"status_url"`
	StatusMethod string `yaml:"status_method"` // default POST
	// FallbackURL (Plivo) is requested once when a flow-control fetch fails (callbacks.md §1.6).
	FallbackURL string `yaml:"fallback_url"`
	// AuthToken signs Plivo requests (X-Plivo-Signature-V3). Never logged.
	AuthToken Secret `yaml:"auth_token"`
	// SigningSecret adds X-Pbxbridge-Signature to every request. Never logged.
	SigningSecret Secret `yaml:"signing_secret"`
	// Numbers are dialled numbers that route to this app.
	Numbers []string `yaml:"numbers"`
	// Container receives recordings without containerSid. Default: the first container.
	Container string `yaml:"container"`
	// Lenient reads invalid attribute values as their defaults (record.md §0).
	Lenient bool `yaml:"lenient"`
	// DocumentLimit is the largest document accepted, in bytes. Default 102400.
	DocumentLimit int `yaml:"document_limit"`
}

// Container is a managed recording container.
type Container struct {
	SID string `yaml:"sid"` // required, unique
	// QuotaBytes is the byte quota. Default 1 GiB (CarrierX's default); 0 is not allowed.
	QuotaBytes int64 `yaml:"quota_bytes"`
}

// Recording holds recording defaults.
type Recording struct {
	// SessionCap bounds background recordings without maxLength. Default 4h.
	SessionCap Duration `yaml:"session_cap"`
	// TrimThreshold is the silence gate for trim-silence, as a fraction of full scale.
	// Default 0.01 (about -40 dBFS); 0–1.
	TrimThreshold float64 `yaml:"trim_threshold"`
	// TrimMargin is kept at each edge cut. Default 100ms.
	TrimMargin Duration `yaml:"trim_margin"`
}

// Outbox tunes callback delivery.
type Outbox struct {
	// Workers is how many callbacks one instance sends at once. The worker claims up to
	// 4×workers entries ahead of them and acknowledges delivered ones in batches. Default 8;
	// 1–256.
	Workers int      `yaml:"workers"`
	Lease   Duration `yaml:"lease"` // default 2m; must exceed the longest total timeout (55s)
	// Key seals the credentials of callback URLs in the store. Default: generated at first
	// start and kept in data_dir; instances sharing a store must share it. Never logged.
	Key Secret `yaml:"key"`
}

// Store chooses where call state, File metadata and the outbox live. Default (nothing set):
// the embedded store in data_dir, for one instance. Set exactly one of url, sentinel and
// cluster to share Redis (7.0 or newer) between instances.
type Store struct {
	// URL of a standalone Redis: redis://[user:password@]host:port[/db] or rediss://...
	// Never logged.
	URL Secret `yaml:"url"`
	// Sentinel: the master's name and the Sentinels' addresses (host:port).
	Sentinel Sentinel `yaml:"sentinel"`
	// Cluster lists seed addresses (host:port) of a Redis Cluster.
	Cluster []string `yaml:"cluster"`
	// Password authenticates to the Redis servers of a Sentinel or Cluster setup (a URL
	// carries its own). Never logged.
	Password Secret `yaml:"password"`
	// Prefix starts every Redis key. Default "pbxbridge:"; no '{' or '}' (they would change
	// the keys' Cluster hash tags).
	Prefix string `yaml:"prefix"`
	// RetryWindow is how long a call keeps trying a store write (a callback's enqueue, its
	// state) that fails because the store is unreachable (a Redis restart or failover), before
	// it gives up and logs what is lost. Default 30s; 1s–10m.
	RetryWindow Duration `yaml:"retry_window"`
}

// Sentinel names a Redis master watched by Sentinels.
type Sentinel struct {
	// Master is the name the Sentinels know the master by (sentinel.conf's monitor name).
	Master string `yaml:"master"`
	// Addresses are the Sentinels' host:port addresses; at least one with master.
	Addresses []string `yaml:"addresses"`
}

// Redis reports whether a Redis store is configured (otherwise the embedded store is used).
func (s Store) Redis() bool {
	return s.URL != "" || s.Sentinel.Master != "" || len(s.Sentinel.Addresses) > 0 || len(s.Cluster) > 0
}

// Default is the configuration used when no file is given: one local Asterisk with the
// project's test credentials, one container, and no apps (the demo adds its own).
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// Load reads a YAML file, expands ${VAR} from the environment, applies defaults and validates.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(raw)
}

// Parse is Load from bytes.
func Parse(raw []byte) (*Config, error) {
	expanded := os.Expand(string(raw), func(k string) string {
		if k == "$" {
			return "$"
		}
		return os.Getenv(k)
	})
	dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.KnownFields(true)
	c := &Config{}
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w: %v", ErrInvalid, err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.PublicURL, "http://"+c.Listen)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	def(&c.DataDir, "pbxbridge-data")
	def(&c.LogLevel, "info")
	def(&c.LogFormat, LogText)
	c.Shutdown.applyDefaults()
	if c.LinkTTL == 0 {
		c.LinkTTL = Duration(168 * time.Hour)
	}
	if len(c.Asterisk) == 0 && len(c.FreeSWITCH) == 0 {
		c.Asterisk = []Asterisk{{Password: "pbxbridge-test"}}
	}
	for i := range c.FreeSWITCH {
		f := &c.FreeSWITCH[i]
		def(&f.Name, "freeswitch")
		def(&f.Listen, "127.0.0.1:8084")
		def(&f.RecordDir, filepath.Join(c.DataDir, "freeswitch"))
		if f.ConnectTimeout == 0 {
			f.ConnectTimeout = Duration(10 * time.Second)
		}
		if f.CommandTimeout == 0 {
			f.CommandTimeout = Duration(5 * time.Second)
		}
		def(&f.RecordTransfer, RecordShared)
		f.UploadURL = strings.TrimRight(f.UploadURL, "/")
		if f.UploadTimeout == 0 {
			f.UploadTimeout = Duration(30 * time.Second)
		}
		if f.UploadMaxBytes == 0 {
			f.UploadMaxBytes = 512 << 20
		}
		f.Dial.setDefaults()
	}
	for i := range c.Asterisk {
		a := &c.Asterisk[i]
		def(&a.Name, "asterisk")
		def(&a.URL, "http://127.0.0.1:8088/ari")
		def(&a.Username, "pbxbridge")
		def(&a.Application, "pbxbridge")
		a.Dial.defaults()
		if a.WebsocketURL == "" {
			a.WebsocketURL = websocketURL(a.URL)
		}
		if a.ConnectTimeout == 0 {
			a.ConnectTimeout = Duration(10 * time.Second)
		}
		if a.CommandTimeout == 0 {
			a.CommandTimeout = Duration(5 * time.Second)
		}
	}
	if len(c.Containers) == 0 {
		c.Containers = []Container{{SID: "default"}}
	}
	for i := range c.Containers {
		if c.Containers[i].QuotaBytes == 0 {
			c.Containers[i].QuotaBytes = 1 << 30
		}
	}
	for i := range c.Apps {
		a := &c.Apps[i]
		def(&a.Method, "POST")
		def(&a.StatusMethod, "POST")
		a.Method, a.StatusMethod = strings.ToUpper(a.Method), strings.ToUpper(a.StatusMethod)
		def(&a.Container, c.Containers[0].SID)
		if a.DocumentLimit == 0 {
			a.DocumentLimit = translate.DefaultMaxBytes
		}
	}
	if c.DefaultApp == "" && len(c.Apps) > 0 {
		c.DefaultApp = c.Apps[0].Name
	}
	if c.Recording.SessionCap == 0 {
		c.Recording.SessionCap = Duration(4 * time.Hour)
	}
	if c.Recording.TrimThreshold == 0 {
		c.Recording.TrimThreshold = 0.01
	}
	if c.Recording.TrimMargin == 0 {
		c.Recording.TrimMargin = Duration(100 * time.Millisecond)
	}
	if c.HA.LeaseTTL == 0 {
		c.HA.LeaseTTL = Duration(10 * time.Second)
	}
	if c.HA.LeaseRenew == 0 {
		c.HA.LeaseRenew = c.HA.LeaseTTL / 4
	}
	if c.Outbox.Workers == 0 {
		c.Outbox.Workers = 8
	}
	if c.Outbox.Lease == 0 {
		c.Outbox.Lease = Duration(2 * time.Minute)
	}
	def(&c.Store.Prefix, "pbxbridge:")
	if c.Store.RetryWindow == 0 {
		c.Store.RetryWindow = Duration(30 * time.Second)
	}
	c.Transcription.applyDefaults()
	c.ExternalStorage.applyDefaults()
	c.Dashboard.applyDefaults()
}

func websocketURL(rest string) string {
	u, err := url.Parse(rest)
	if err != nil {
		return ""
	}
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/events"
	return u.String()
}

// Validate checks every field and returns the first problem as a *FieldError.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)}
	}
	if err := checkURL(c.PublicURL); err != "" {
		return bad("public_url", "%s", err)
	}
	if c.LinkTTL < Duration(time.Minute) || c.LinkTTL > Duration(8760*time.Hour) {
		return bad("link_ttl", "must be between 1m and 8760h, got %s", c.LinkTTL)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != LogText && c.LogFormat != LogJSON {
		return bad("log_format", "must be text or json, got %q", c.LogFormat)
	}
	if err := c.Shutdown.validate(bad); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, a := range c.Asterisk {
		f := fmt.Sprintf("asterisk[%d]", i)
		if names[a.Name] {
			return bad(f+".name", "%q is used twice", a.Name)
		}
		names[a.Name] = true
		if err := checkURL(a.URL); err != "" {
			return bad(f+".url", "%s", err)
		}
		if u, err := url.Parse(a.WebsocketURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return bad(f+".websocket_url", "must be a ws:// or wss:// URL, got %q", a.WebsocketURL)
		}
		if a.Password == "" {
			return bad(f+".password", "is required (ARI refuses empty credentials)")
		}
		if a.Application == "" || strings.ContainsAny(a.Application, "/ ,") {
			return bad(f+".application", "must be a Stasis application name without '/', ',' or spaces")
		}
		if err := a.Dial.validate(f); err != nil {
			return err
		}
	}
	for i, f := range c.FreeSWITCH {
		fl := fmt.Sprintf("freeswitch[%d]", i)
		if names[f.Name] {
			return bad(fl+".name", "%q is used twice", f.Name)
		}
		names[f.Name] = true
		if _, _, err := net.SplitHostPort(f.Listen); err != nil {
			return bad(fl+".listen", "must be host:port, got %q", f.Listen)
		}
		if f.Inbound != "" {
			if _, _, err := net.SplitHostPort(f.Inbound); err != nil {
				return bad(fl+".inbound", "must be host:port, got %q", f.Inbound)
			}
			if f.Password == "" {
				return bad(fl+".password", "is required with inbound (event_socket.conf's password)")
			}
		}
		if f.RecordDir == "" {
			return bad(fl+".record_dir", "is required")
		}
		if f.CommandTimeout < Duration(100*time.Millisecond) || f.ConnectTimeout < Duration(100*time.Millisecond) {
			return bad(fl+".command_timeout", "timeouts must be at least 100ms")
		}
		switch f.RecordTransfer {
		case RecordShared:
		case RecordHTTP:
			u, err := url.Parse(f.UploadURL)
			if f.UploadURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return bad(fl+".upload_url", "must be pbxbridge's http(s) base URL as FreeSWITCH reaches it, without user, query or fragment, with record_transfer http; got %q", f.UploadURL)
			}
			if strings.Trim(f.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
				return bad(fl+".name", "must be letters, digits, '-' and '_' only with record_transfer http (it is part of the upload URL), got %q", f.Name)
			}
			if len(f.UploadToken) < 16 {
				return bad(fl+".upload_token", "must be at least 16 characters with record_transfer http")
			}
		default:
			return bad(fl+".record_transfer", "must be %q or %q, got %q", RecordShared, RecordHTTP, f.RecordTransfer)
		}
		if f.UploadTimeout < Duration(time.Second) || f.UploadTimeout > Duration(time.Hour) {
			return bad(fl+".upload_timeout", "must be between 1s and 1h, got %v", f.UploadTimeout)
		}
		if f.UploadMaxBytes < 1<<20 {
			return bad(fl+".upload_max_bytes", "must be at least 1048576 (1 MiB), got %d", f.UploadMaxBytes)
		}
		if name, rule := f.Dial.check(); name != "" {
			return bad(fl+".dial."+name, "%s", rule)
		}
	}
	containers := map[string]bool{}
	for i, ct := range c.Containers {
		f := fmt.Sprintf("containers[%d]", i)
		if ct.SID == "" || strings.ContainsAny(ct.SID, "/\\ ") || ct.SID == "." || ct.SID == ".." {
			return bad(f+".sid", "must be a non-empty name without '/', '\\' or spaces")
		}
		if containers[ct.SID] {
			return bad(f+".sid", "%q is used twice", ct.SID)
		}
		containers[ct.SID] = true
		if ct.QuotaBytes < 0 {
			return bad(f+".quota_bytes", "must be positive")
		}
	}
	apps := map[string]bool{}
	numbers := map[string]string{}
	for i, a := range c.Apps {
		f := fmt.Sprintf("apps[%d]", i)
		if a.Name == "" {
			return bad(f+".name", "is required")
		}
		if apps[a.Name] {
			return bad(f+".name", "%q is used twice", a.Name)
		}
		apps[a.Name] = true
		if _, err := translate.ParseDialect(string(a.Dialect)); err != nil || a.Dialect == "" {
			return bad(f+".dialect", "must be flexml or plivo, got %q", a.Dialect)
		}
		if err := checkURL(a.URL); err != "" {
			return bad(f+".url", "%s", err)
		}
		if a.Method != "GET" && a.Method != "POST" {
			return bad(f+".method", "must be GET or POST, got %q", a.Method)
		}
		if a.StatusURL != "" {
			if err := checkURL(a.StatusURL); err != "" {
				return bad(f+".status_url", "%s", err)
			}
		}
		if a.StatusMethod != "GET" && a.StatusMethod != "POST" {
			return bad(f+".status_method", "must be GET or POST, got %q", a.StatusMethod)
		}
		if a.FallbackURL != "" {
			if err := checkURL(a.FallbackURL); err != "" {
				return bad(f+".fallback_url", "%s", err)
			}
		}
		if !containers[a.Container] {
			return bad(f+".container", "%q is not a configured container", a.Container)
		}
		if a.DocumentLimit < 1024 || a.DocumentLimit > 10<<20 {
			return bad(f+".document_limit", "must be between 1024 and 10485760 bytes")
		}
		for j, n := range a.Numbers {
			if prev, ok := numbers[n]; ok {
				return bad(fmt.Sprintf("%s.numbers[%d]", f, j), "%q already routes to app %q", n, prev)
			}
			numbers[n] = a.Name
		}
	}
	if c.DefaultApp != "" && !apps[c.DefaultApp] {
		return bad("default_app", "%q is not a configured app", c.DefaultApp)
	}
	if c.Recording.SessionCap < Duration(time.Second) || c.Recording.SessionCap > Duration(24*time.Hour) {
		return bad("recording.session_cap", "must be between 1s and 24h")
	}
	if c.Recording.TrimThreshold <= 0 || c.Recording.TrimThreshold >= 1 {
		return bad("recording.trim_threshold", "must be between 0 and 1 (a fraction of full scale)")
	}
	if c.Recording.TrimMargin < 0 || c.Recording.TrimMargin > Duration(2*time.Second) {
		return bad("recording.trim_margin", "must be between 0 and 2s")
	}
	if c.Outbox.Workers < 1 || c.Outbox.Workers > 256 {
		return bad("outbox.workers", "must be between 1 and 256")
	}
	if c.Outbox.Lease <= Duration(55*time.Second) {
		return bad("outbox.lease", "must exceed 55s, the longest total timeout of one delivery")
	}
	if c.HA.LeaseTTL < Duration(time.Second) || c.HA.LeaseTTL > Duration(5*time.Minute) {
		return bad("ha.lease_ttl", "must be between 1s and 5m")
	}
	if c.HA.LeaseRenew < Duration(100*time.Millisecond) || c.HA.LeaseRenew > c.HA.LeaseTTL/3 {
		return bad("ha.lease_renew", "must be between 100ms and a third of ha.lease_ttl (%v)", c.HA.LeaseTTL.D()/3)
	}
	if err := c.Transcription.validate(bad); err != nil {
		return err
	}
	if err := c.ExternalStorage.validate(bad); err != nil {
		return err
	}
	if err := c.Dashboard.validate(bad); err != nil {
		return err
	}
	return c.Store.validate(bad)
}

func (s Store) validate(bad func(field, format string, args ...any) error) error {
	set := 0
	for _, on := range []bool{s.URL != "", s.Sentinel.Master != "" || len(s.Sentinel.Addresses) > 0, len(s.Cluster) > 0} {
		if on {
			set++
		}
	}
	if set > 1 {
		return bad("store", "set only one of url, sentinel and cluster")
	}
	if s.URL != "" {
		u, err := url.Parse(s.URL.Reveal())
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return bad("store.url", "must be a redis:// or rediss:// URL with a host, got %q", redactURL(s.URL.Reveal()))
		}
	}
	if s.Sentinel.Master != "" || len(s.Sentinel.Addresses) > 0 {
		if s.Sentinel.Master == "" {
			return bad("store.sentinel.master", "is required with sentinel addresses")
		}
		if len(s.Sentinel.Addresses) == 0 {
			return bad("store.sentinel.addresses", "needs at least one host:port")
		}
		for i, a := range s.Sentinel.Addresses {
			if err := checkHostPort(a); err != "" {
				return bad(fmt.Sprintf("store.sentinel.addresses[%d]", i), "%s", err)
			}
		}
	}
	for i, a := range s.Cluster {
		if err := checkHostPort(a); err != "" {
			return bad(fmt.Sprintf("store.cluster[%d]", i), "%s", err)
		}
	}
	if strings.ContainsAny(s.Prefix, "{}") {
		return bad("store.prefix", "must not contain '{' or '}' (Redis Cluster hash tags), got %q", s.Prefix)
	}
	if s.RetryWindow < Duration(time.Second) || s.RetryWindow > Duration(10*time.Minute) {
		return bad("store.retry_window", "must be between 1s and 10m, got %s", time.Duration(s.RetryWindow))
	}
	return nil
}

func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" {
		return fmt.Sprintf("must be host:port, got %q", s)
	}
	return ""
}

func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an absolute http or https URL, got %q", redactURL(s))
	}
	return ""
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// App returns the application called name.
func (c *Config) App(name string) (*App, bool) {
	for i := range c.Apps {
		if c.Apps[i].Name == name {
			return &c.Apps[i], true
		}
	}
	return nil, false
}

// Route chooses the application for a call: the one named by the PBX (Stasis argument or
// channel variable), else the one owning the dialled number, else the default app.
func (c *Config) Route(named, dialled string) (*App, bool) {
	if named != "" {
		if a, ok := c.App(named); ok {
			return a, true
		}
	}
	for i := range c.Apps {
		for _, n := range c.Apps[i].Numbers {
			if n == dialled {
				return &c.Apps[i], true
			}
		}
	}
	return c.App(c.DefaultApp)
}

// Container returns the container called sid.
func (c *Config) Container(sid string) (*Container, bool) {
	for i := range c.Containers {
		if c.Containers[i].SID == sid {
			return &c.Containers[i], true
		}
	}
	return nil, false
}

// Secret is a configuration value that never prints.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText keeps encoders and slog from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the value, for the one place that hands it to its consumer.
func (s Secret) Reveal() string { return string(s) }

// Duration is a time.Duration written as "5s", "2m" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 30s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

package config

import (
	"errors"
	"testing"
	"time"
)

func TestShutdownAndLogFormat(t *testing.T) {
	c, err := Parse([]byte("apps: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Shutdown.DrainTimeout.D() != 30*time.Second || c.Shutdown.FlushTimeout.D() != 10*time.Second || c.LogFormat != LogText {
		t.Errorf("defaults: %+v %q", c.Shutdown, c.LogFormat)
	}
	c, err = Parse([]byte("log_format: json\nshutdown: {drain_timeout: 2m, flush_timeout: 1s}\n"))
	if err != nil || c.Shutdown.DrainTimeout.D() != 2*time.Minute || c.Shutdown.FlushTimeout.D() != time.Second || c.LogFormat != LogJSON {
		t.Errorf("%+v %v", c, err)
	}
	for in, field := range map[string]string{
		"log_format: xml":                "log_format",
		"shutdown: {drain_timeout: -1s}": "shutdown.drain_timeout",
		"shutdown: {drain_timeout: 25h}": "shutdown.drain_timeout",
		"shutdown: {flush_timeout: 11m}": "shutdown.flush_timeout",
		"shutdown: {flush_timeout: -5s}": "shutdown.flush_timeout",
	} {
		_, err := Parse([]byte(in))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want an error naming %s", in, err, field)
		}
	}
}

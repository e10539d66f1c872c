//go:build linux

package webhook

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// fullListener is a loopback listener that never accepts and whose accept queue is full, so
// that Linux drops every further SYN: a connect to it hangs until the dialer's timeout, which
// is a connect timeout without any non-loopback address.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	// Backlog 0: the queue holds one connection, and the kernel drops SYNs beyond it.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "http://" + addr + "/cb"
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Fatal("the accept queue never filled")
	return ""
}

func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	u := mustURL(t, fullListener(t))
	const ct = 150 * time.Millisecond
	c := newTestClient(t, Options{})
	start := time.Now()
	_, err := c.Do(t.Context(), Request{URL: u, Retry: policy(ct, time.Second, 5*time.Second, 1, translate.RetryConnectTimeout)})
	de := deliveryError(t, err)
	if !errors.Is(err, ErrConnect) || de.Timeout != ct || de.Total || de.Attempts != 2 {
		t.Errorf("err = %v, want a connect timeout of %v, retried once", err, ct)
	}
	if d := time.Since(start); d < 2*ct+Backoff(1) {
		t.Errorf("gave up after %v, before two connect timeouts and a backoff", d)
	}
	if want := "could not connect within 150ms"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}

	// Without ct in rp there is no retry.
	_, err = c.Do(t.Context(), Request{URL: u, Retry: policy(ct, time.Second, 5*time.Second, 1, translate.Retry5xx)})
	if de := deliveryError(t, err); !errors.Is(err, ErrConnect) || de.Attempts != 1 {
		t.Errorf("err = %v, want one connect timeout", err)
	}
}

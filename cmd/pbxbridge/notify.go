package main

import (
	"net"
	"os"
	"strings"
)

// sdNotify tells systemd (Type=notify units) about the service's state: "READY=1" once it
// serves, "STOPPING=1" when the drain starts, "STATUS=..." for `systemctl status`. It writes
// one datagram to $NOTIFY_SOCKET (a path, or an abstract socket when it starts with '@') and
// does nothing when the variable is unset, as outside systemd. The protocol is sd_notify(3);
// it needs no library.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

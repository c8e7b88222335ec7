package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"relaybox/appliance"
)

// The reasons dialControl gives for a control socket it cannot use.
var (
	// errNotRunning: the socket is missing, or nothing listens on it.
	errNotRunning = errors.New("no appliance is running")
	// errPermission: the socket or its directory is another user's.
	errPermission = errors.New("permission denied")
)

// dialControl connects to the control socket of the data directory data.
// Its error says why not, and what to do, in the admin's terms; it wraps
// errNotRunning or errPermission when that is the reason.
func dialControl(data string) (net.Conn, error) {
	conn, err := net.Dial("unix", appliance.SocketPath(data))
	if err != nil {
		return nil, explainDial(data, err)
	}
	return conn, nil
}

// explainDial turns a failed connect to the control socket of data into the
// message an admin needs.
func explainDial(data string, err error) error {
	path := appliance.SocketPath(data)
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: you cannot connect to the control socket %s, which only its owner may use: "+
			"run relaybox cli as %s, the owner of %s, e.g. \"sudo -u %s relaybox cli --data %s\"",
			errPermission, path, ownerOf(data), data, ownerName(data), data)
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w on %s (%v): start one with \"relaybox serve --data %s\"", errNotRunning, data, err, data)
	}
	return fmt.Errorf("connecting to the control socket %s: %w", path, err)
}

// ownerOf describes the owner of the data directory: "alice (uid 1000)",
// or "the user" when it cannot be read.
func ownerOf(data string) string {
	uid, ok := ownerUID(data)
	if !ok {
		return "the user"
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// ownerName is the owner of the data directory as sudo -u takes it.
func ownerName(data string) string {
	uid, ok := ownerUID(data)
	if !ok {
		return "OWNER"
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(uid)
}

// ownerUID reads the owner of the data directory.
func ownerUID(data string) (int, bool) {
	st, err := os.Stat(filepath.Clean(data))
	if err != nil {
		return 0, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}

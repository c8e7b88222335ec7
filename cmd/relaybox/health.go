package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"relaybox/shell"
)

// healthTimeout bounds the whole check: an engine that does not answer in
// time (a wedged commit holds its lock) is unhealthy, not a hung check.
const healthTimeout = 10 * time.Second

// promptLine is the shell's echo in script mode ("HOST> health") and its last
// prompt ("HOST> "), which the health report leaves out.
var promptLine = regexp.MustCompile(`^\S+> (health)?$`)

// health runs the shell command health on the running appliance over its
// control socket, as a one-line script: exit 0 when it serves every
// configured socket, 1 otherwise (or when no appliance answers), saying why.
func health(args []string) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "data directory of the running appliance")
	timeout := fs.Duration("timeout", healthTimeout, "how long to wait for the appliance's answer")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "health: bad arguments\n%s", usageText)
		return 2
	}
	conn, err := dialControl(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox health: unhealthy:", err)
		return 1
	}
	if err := conn.SetDeadline(time.Now().Add(*timeout)); err != nil {
		fmt.Fprintln(os.Stderr, "relaybox health:", err)
		return 1
	}
	script, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox health:", err)
		return 1
	}
	defer script.Close()
	_, err = io.WriteString(w, "health\n")
	w.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox health:", err)
		return 1
	}
	var out, errOut bytes.Buffer
	code, err := shell.Attach(conn, script, &out, &errOut, false)
	for _, l := range strings.SplitAfter(out.String(), "\n") {
		if l != "" && !promptLine.MatchString(strings.TrimSuffix(l, "\n")) {
			fmt.Print(l)
		}
	}
	fmt.Fprint(os.Stderr, strings.ReplaceAll(errOut.String(), "line 1: ", "relaybox health: "))
	if err != nil {
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			fmt.Fprintf(os.Stderr, "relaybox health: unhealthy: the appliance on %s did not answer within %v\n", *data, *timeout)
		} else {
			fmt.Fprintln(os.Stderr, "relaybox health: unhealthy:", err)
		}
		return 1
	}
	return code
}

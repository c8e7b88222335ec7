// Command relaybox is the Relaybox email-gateway appliance: the daemon
// (serve), a shell attached to it (cli), or both in one process (console).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"relaybox/appliance"
	"relaybox/config"
	"relaybox/shell"
)

// Set by the Makefile with -ldflags.
var (
	version = "dev"
	commit  = ""
)

func main() {
	os.Exit(run(os.Args[1:]))
}

const usageText = `usage:
  relaybox serve   --data DIR [first-start flags]   the appliance as a daemon
  relaybox cli     --data DIR [--keep-going]        a shell attached to the daemon
  relaybox console --data DIR [first-start flags]   engine and shell in one process
  relaybox health  --data DIR [--timeout 10s]       exit 0 if every configured listener and port is served, else 1
  relaybox version
  relaybox                                          attach if a daemon runs on $RELAYBOX_DATA (default ./data), else console

first-start flags (used only when DIR holds no configuration yet; each also as an environment variable):
  --hostname NAME        RELAYBOX_HOSTNAME        (default: the machine's)
  --listen ADDR          RELAYBOX_LISTEN          (address of interface Management; default 127.0.0.1, the image: 0.0.0.0)
  --smtp-port N          RELAYBOX_SMTP_PORT       (default 2525, listener IncomingMail)
  --submission-port N    RELAYBOX_SUBMISSION_PORT (default 2587, listener OutgoingMail)
  --https-port N         RELAYBOX_HTTPS_PORT      (default 8443)
  --ssh-port N           RELAYBOX_SSH_PORT        (default 2222)
  --domains LIST         RELAYBOX_DOMAINS         (comma list the public listener accepts mail for)
  --resolver IP:PORT     RELAYBOX_RESOLVER        (DNS server for MX lookups; default: the system's)
  RELAYBOX_ADMIN_PASSWORD sets the admin password instead of printing a generated one.

daemon flags (every start):
  --mx-port N            RELAYBOX_MX_PORT         (port of MX hosts and of smtproutes hosts given without one;
                                                   default 25; for labs whose MTAs listen elsewhere)
`

func versionString() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("Relaybox %s (commit %s, %s)", version, c, runtime.Version())
}

func run(args []string) int {
	if len(args) == 0 {
		return noArgs()
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "cli":
		return cli(args[1:])
	case "console":
		return console(args[1:])
	case "health":
		return health(args[1:])
	case "version", "--version":
		fmt.Println(versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Print(usageText)
		return 0
	}
	fmt.Fprintf(os.Stderr, "relaybox: unknown command %q\n%s", args[0], usageText)
	return 2
}

func defaultDataDir() string {
	if d := os.Getenv("RELAYBOX_DATA"); d != "" {
		return d
	}
	return "./data"
}

// bootFlags are the flags of the commands that start the engine.
type bootFlags struct {
	data   string
	first  config.FirstStart
	doms   string
	mxPort int
	// given are the first-start choices the operator made (flags or
	// environment variables), to say so when a later start ignores them.
	given []appliance.FirstStartSetting
}

// firstStartFlags pairs each first-start flag with its environment variable.
var firstStartFlags = []struct{ flag, env string }{
	{"hostname", "RELAYBOX_HOSTNAME"}, {"listen", "RELAYBOX_LISTEN"}, {"smtp-port", "RELAYBOX_SMTP_PORT"}, {"submission-port", "RELAYBOX_SUBMISSION_PORT"},
	{"https-port", "RELAYBOX_HTTPS_PORT"}, {"ssh-port", "RELAYBOX_SSH_PORT"}, {"domains", "RELAYBOX_DOMAINS"}, {"resolver", "RELAYBOX_RESOLVER"},
}

func parseBoot(name string, args []string) (*bootFlags, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	b := &bootFlags{first: config.DefaultPorts}
	envInt := func(key string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
			return v
		}
		return def
	}
	fs.StringVar(&b.data, "data", defaultDataDir(), "data directory")
	fs.StringVar(&b.first.Hostname, "hostname", os.Getenv("RELAYBOX_HOSTNAME"), "first-start hostname")
	if v := os.Getenv("RELAYBOX_LISTEN"); v != "" {
		b.first.Address = v
	}
	fs.StringVar(&b.first.Address, "listen", b.first.Address, "first-start address of interface Management")
	fs.IntVar(&b.first.SMTPPort, "smtp-port", envInt("RELAYBOX_SMTP_PORT", b.first.SMTPPort), "first-start SMTP port")
	fs.IntVar(&b.first.SubmissionPort, "submission-port", envInt("RELAYBOX_SUBMISSION_PORT", b.first.SubmissionPort), "first-start relay port")
	fs.IntVar(&b.first.HTTPSPort, "https-port", envInt("RELAYBOX_HTTPS_PORT", b.first.HTTPSPort), "first-start HTTPS port")
	fs.IntVar(&b.first.SSHPort, "ssh-port", envInt("RELAYBOX_SSH_PORT", b.first.SSHPort), "first-start SSH port")
	fs.StringVar(&b.doms, "domains", os.Getenv("RELAYBOX_DOMAINS"), "first-start accepted domains")
	fs.StringVar(&b.first.Resolver, "resolver", os.Getenv("RELAYBOX_RESOLVER"), "first-start DNS server for MX lookups")
	fs.IntVar(&b.mxPort, "mx-port", envInt("RELAYBOX_MX_PORT", 25), "port of MX hosts")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, usageText)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected argument %q\n%s", name, fs.Arg(0), usageText)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range firstStartFlags {
		if set[f.flag] || os.Getenv(f.env) != "" {
			b.given = append(b.given, appliance.FirstStartSetting{Flag: "--" + f.flag, Env: f.env, Value: fs.Lookup(f.flag).Value.String()})
		}
	}
	if os.Getenv("RELAYBOX_ADMIN_PASSWORD") != "" {
		b.given = append(b.given, appliance.FirstStartSetting{Env: "RELAYBOX_ADMIN_PASSWORD", Value: "(hidden)"})
	}
	if b.mxPort < 1 || b.mxPort > 65535 {
		return nil, fmt.Errorf("%s: --mx-port (or RELAYBOX_MX_PORT) %d is not a TCP port (1-65535)", name, b.mxPort)
	}
	if err := config.CheckAddress(b.first.Address); err != nil {
		return nil, fmt.Errorf("%s: --listen (or RELAYBOX_LISTEN): %w", name, err)
	}
	for _, d := range strings.Split(b.doms, ",") {
		if d = strings.TrimSpace(d); d != "" {
			b.first.Domains = append(b.first.Domains, d)
		}
	}
	return b, nil
}

// boot starts the appliance. On its first start it says what the box
// listens on; on a later one, which first-start choices it ignored.
func boot(ctx context.Context, b *bootFlags, logCopy io.Writer) (*appliance.Appliance, error) {
	a, err := appliance.Start(ctx, appliance.Options{
		DataDir: b.data, First: b.first, AdminPassword: os.Getenv("RELAYBOX_ADMIN_PASSWORD"), MXPort: b.mxPort,
		Version: versionString(), Out: os.Stdout, ErrorLog: os.Stderr, LogCopy: logCopy,
	})
	if err != nil {
		return nil, err
	}
	if a.FirstStart {
		for _, l := range appliance.Summary(a.Store.Current()) {
			fmt.Println("First start:", l)
		}
	} else {
		for _, l := range appliance.IgnoredFirstStart(a.Store.Current(), b.given) {
			fmt.Fprintln(os.Stderr, "relaybox:", l)
		}
	}
	return a, nil
}

func serve(args []string) int {
	b, err := parseBoot("serve", args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if done, err := profile(); err != nil {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
		return 1
	} else {
		defer done()
	}
	a, err := boot(ctx, b, os.Stdout) // the daemon copies mail_logs to stdout (SPEC §1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
		return 1
	}
	ln, err := a.ListenControl()
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
		return 1
	}
	fmt.Printf("%s serving; configuration version %d; control socket %s\n", versionString(), a.Store.Current().Version, ln.Addr())
	for _, e := range a.Engine.Status().Endpoints {
		if e.Kind == "ssh" {
			fmt.Printf("  %s %s on %s\n", e.Kind, e.Name, e.Addr)
			continue
		}
		fmt.Printf("  %s %s on %s (TLS %s)\n", e.Kind, e.Name, e.Addr, e.TLS)
	}
	for _, k := range a.App.HostKeys {
		fmt.Printf("  SSH host key %s\n", k)
	}
	_ = a.ServeControl(ctx, ln)
	return shutdown(a)
}

func shutdown(a *appliance.Appliance) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "relaybox: shutting down:", err)
		return 1
	}
	return 0
}

func console(args []string) int {
	b, err := parseBoot("console", args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	a, err := boot(ctx, b, nil) // the console is the shell's: no log copy
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
		return 1
	}
	if ln, err := a.ListenControl(); err == nil {
		go func() { _ = a.ServeControl(ctx, ln) }()
	}
	opts := a.Session(config.DefaultAdminUser)
	opts.Interactive = term.IsTerminal(int(os.Stdin.Fd()))
	opts.In, opts.Out, opts.Err = os.Stdin, os.Stdout, os.Stderr
	opts.Terminal = shell.Terminal{In: os.Stdin, Out: os.Stdout}
	opts.StopsAppliance = true // quit and Ctrl-D say that they stop it
	if opts.Interactive {
		fmt.Printf("%s\nType help for the commands, quit to stop the appliance.\n", versionString())
	}
	code := shell.Run(ctx, opts)
	if c := shutdown(a); c != 0 {
		return c
	}
	if opts.Interactive {
		fmt.Println("The appliance has stopped.")
	}
	return code
}

func cli(args []string) int {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "data directory of the running appliance")
	keep := fs.Bool("keep-going", false, "in script mode, continue after a failing line")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cli: bad arguments\n%s", usageText)
		return 2
	}
	conn, err := dialControl(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
		return 1
	}
	code, err := shell.Attach(conn, os.Stdin, os.Stdout, os.Stderr, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
	}
	return code
}

func noArgs() int {
	data := defaultDataDir()
	conn, err := dialControl(data)
	if err == nil {
		code, err := shell.Attach(conn, os.Stdin, os.Stdout, os.Stderr, false)
		if err != nil {
			fmt.Fprintln(os.Stderr, "relaybox:", err)
		}
		return code
	}
	if !errors.Is(err, errNotRunning) {
		fmt.Fprintln(os.Stderr, "relaybox:", err)
	}
	if errors.Is(err, errPermission) {
		return 1 // another user's appliance: a console on its directory would fail too
	}
	return console([]string{"--data", data})
}

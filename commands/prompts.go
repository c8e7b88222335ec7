package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/shell"
)

// This file holds what the command files share: prompts, pickers, menu
// loops and the words of the batch forms. Command files depend on it (and
// on files.go for DATA/configs), never on each other.

// errBack is what a prompt returns when Enter at a question without a
// default goes back: the operation ends without a change and the menu it
// came from is shown again.
var errBack = errors.New("back to the menu")

// backOK turns errBack into success for a dialog's outermost level.
func backOK(err error) error {
	if errors.Is(err, errBack) {
		return nil
	}
	return err
}

// stamp prints a time as the appliance does, with its time zone.
func stamp(t time.Time) string { return config.Stamp(t) }

// usage is the error for a batch form that does not parse.
func usage(cmd, form string) error {
	return fmt.Errorf("Invalid arguments when processing: %s; usage: %s (see help %s)", cmd, form, cmd)
}

func enableWord(b bool) string {
	if b {
		return "Enabled"
	}
	return "Disabled"
}

// onOff parses enable/disable in a batch form.
func onOff(cmd, word string) (bool, error) {
	switch strings.ToLower(word) {
	case "enable", "on", "yes":
		return true, nil
	case "disable", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is neither enable nor disable", cmd, word)
}

// parseKV reads key=value arguments of the batch forms.
func parseKV(args []string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(k)
		if !ok || !containsWord(allowed, k) {
			return nil, fmt.Errorf("%q is not KEY=VALUE with a key among %s", a, strings.Join(allowed, ", "))
		}
		out[k] = v
	}
	return out, nil
}

func containsWord(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// splitList splits a comma or space separated answer into its items.
func splitList(a string) []string {
	return strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// check adapts a config checker to a prompt.
func check[T any](parse func(string) (T, error)) func(string) error {
	return func(a string) error {
		_, err := parse(a)
		return err
	}
}

// askInt asks for a whole number within r.
func askInt(s *shell.Session, question string, def int, r config.Range) (int, error) {
	a, err := s.Text(question, strconv.Itoa(def), check(r.Parse))
	if err != nil {
		return 0, err
	}
	return r.Parse(a)
}

// askPort asks for a TCP port.
func askPort(s *shell.Session, question string, def int) (int, error) {
	a, err := s.Text(question, strconv.Itoa(def), check(config.ParsePort))
	if err != nil {
		return 0, err
	}
	return config.ParsePort(a)
}

// askNew asks the first question of a new object, which has no default:
// Enter goes back (errBack).
func askNew(s *shell.Session, question string, valid func(string) error) (string, error) {
	return emptyGoesBack(func(check func(string) error) (string, error) { return s.Text(question, "", check) }, valid)
}

// emptyGoesBack runs a prompt whose empty answer means "go back": valid
// checks only the other answers, and an empty one returns errBack.
func emptyGoesBack(ask func(check func(string) error) (string, error), valid func(string) error) (string, error) {
	a, err := ask(func(a string) error {
		if a == "" {
			return nil
		}
		return valid(a)
	})
	if err == nil && a == "" {
		return "", errBack
	}
	return a, err
}

// askExisting asks for an existing object by name; Enter goes back.
func askExisting[T any](s *shell.Session, question string, find func(string) (T, error)) (T, error) {
	a, err := askNew(s, question, check(find))
	if err != nil {
		var zero T
		return zero, err
	}
	return find(a)
}

// printList prints a summary list under its header, or empty when there is nothing.
func printList(s *shell.Session, empty, header string, lines []string) {
	s.Println()
	if len(lines) == 0 {
		s.Println(empty)
		return
	}
	s.Println(header)
	for _, l := range lines {
		s.Println(l)
	}
}

// askList asks for a comma separated list, current as the default; parse
// checks and normalises the items. Enter keeps the current list, and goes
// back when there is none.
func askList(s *shell.Session, question string, current []string, parse func([]string) ([]string, error)) ([]string, error) {
	a, err := s.Text(question, strings.Join(current, ", "), func(a string) error {
		if a == "" {
			return nil
		}
		_, err := parse(splitList(a))
		return err
	})
	if err == nil && a == "" {
		return nil, errBack
	}
	if err != nil {
		return nil, err
	}
	return parse(splitList(a))
}

// listItem is one line of a numbered list: its number, the name also
// accepted as an answer ("" for none) and its text.
type listItem struct {
	num        int
	name, text string
}

// numbered makes a list numbered from 1 whose items are also chosen by name.
func numbered(names, texts []string) []listItem {
	out := make([]listItem, len(names))
	for i := range names {
		out[i] = listItem{i + 1, names[i], texts[i]}
	}
	return out
}

// pickFrom shows a numbered list and returns the index of the item chosen
// by its number or its name (case-insensitive). def is the default's
// number; without one (0), Enter goes back (errBack).
func pickFrom(s *shell.Session, question string, items []listItem, def int) (int, error) {
	if len(items) == 0 {
		return 0, errBack
	}
	s.Println()
	s.Println(question)
	for _, it := range items {
		s.Printf("%d. %s\n", it.num, it.text)
	}
	d := ""
	if def > 0 {
		d = strconv.Itoa(def)
	}
	chosen := -1
	_, err := s.Custom("["+d+"]> ", func(a string) error {
		if a == "" {
			a = d
		}
		if a == "" {
			chosen = -1
			return nil
		}
		for i, it := range items {
			if strconv.Itoa(it.num) == a || it.name != "" && strings.EqualFold(it.name, a) {
				chosen = i
				return nil
			}
		}
		return fmt.Errorf("That value is not valid: %q is not in the list; enter one of its numbers%s, or press Enter to go back", a, map[bool]string{true: " or names", false: ""}[items[0].name != ""])
	})
	if err == nil && chosen < 0 {
		return 0, errBack
	}
	return chosen, err
}

// indexOf is the 1-based number of name in names, 0 when absent.
func indexOf(names []string, name string) int {
	for i, n := range names {
		if name != "" && strings.EqualFold(n, name) {
			return i + 1
		}
	}
	return 0
}

func certificateNames(c *config.Config) []string {
	out := make([]string, len(c.Certificates))
	for i, cert := range c.Certificates {
		out[i] = cert.Name
	}
	return out
}

// chooseCertificate asks for one of the configured certificates, def as the
// default. Choosing the Demo certificate needs a confirmation, as on the
// appliance (seed 002): it is the same on every box and so not secure. The
// certificate already in use (current) is kept without asking again.
func chooseCertificate(s *shell.Session, c *config.Config, current, def string) (string, error) {
	names := certificateNames(c)
	if len(names) == 0 {
		return "", fmt.Errorf("there are no certificates: create one with certconfig")
	}
	for {
		i, err := pickFrom(s, "Please choose the certificate to apply:", numbered(names, names), indexOf(names, def))
		if err != nil {
			return "", err
		}
		if strings.EqualFold(names[i], current) {
			return names[i], nil
		}
		if ok, err := confirmDemo(s, names[i]); err != nil || ok {
			return names[i], err
		}
	}
}

// confirmDemo asks before the Demo certificate is used; other names pass.
func confirmDemo(s *shell.Session, name string) (bool, error) {
	if !strings.EqualFold(name, config.DemoCertificate) {
		return true, nil
	}
	s.Printf("You may use %q, but this will not be secure.\n", name)
	return s.YesNo(fmt.Sprintf("Do you really wish to use the %q certificate?", name), false)
}

// interfaceItems lists the interfaces as the dialogs show them.
func interfaceItems(c *config.Config) []listItem {
	names, texts := make([]string, len(c.Interfaces)), make([]string, len(c.Interfaces))
	for i, ifc := range c.Interfaces {
		names[i], texts[i] = ifc.Name, fmt.Sprintf("%s (%s/%d: %s)", ifc.Name, ifc.Address, ifc.Netmask, ifc.Hostname)
	}
	return numbered(names, texts)
}

// menuOp is one operation of a dialog's menu and what it does.
type menuOp struct {
	word, description string
	run               func() error
}

// loopMenu shows summary (when set) and the menu, runs the chosen
// operation, and does it again until Enter at the menu. An operation that
// goes back (errBack) just shows the menu again. ops is called each round,
// so a menu can follow the state (ENABLE or DISABLE).
func loopMenu(s *shell.Session, summary func(), ops func() []menuOp) error {
	for {
		if summary != nil {
			summary()
		}
		list := ops()
		words := make([]shell.Op, len(list))
		for i, op := range list {
			words[i] = shell.Op{Word: op.word, Description: op.description}
		}
		chosen, err := s.Menu(words)
		if err != nil || chosen == "" {
			return err
		}
		for _, op := range list {
			if op.word == chosen {
				err = op.run()
			}
		}
		if err != nil && !errors.Is(err, errBack) {
			return err
		}
	}
}

// fixed returns a menu that does not change.
func fixed(ops ...menuOp) func() []menuOp { return func() []menuOp { return ops } }

// command makes a command with a batch form (its arguments) and a dialog
// (none).
func command(name, summary, help string, batch func(*shell.Session, []string) error, dialog func(*shell.Session) error) shell.Command {
	return shell.Command{
		Name: name, Summary: summary, Help: help,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return batch(s, args)
			}
			return backOK(dialog(s))
		},
	}
}

// toggleMenu is the ENABLE/DISABLE sub-menu of an on/off setting, as
// sslconfig PEER_CERT_FQDN has it: it says the current state and offers only
// the operation that changes it; Enter keeps it.
func toggleMenu(s *shell.Session, what string, v *bool) error {
	s.Printf("\n%s is currently %s.\n", capitalize(what), strings.ToLower(enableWord(*v)))
	word, verb := "ENABLE", "Enable"
	if *v {
		word, verb = "DISABLE", "Disable"
	}
	op, err := s.Menu([]shell.Op{{Word: word, Description: verb + " " + what + "."}})
	if err != nil || op == "" {
		return err
	}
	*v = op == "ENABLE"
	s.Printf("%s is now %s (pending until commit).\n", capitalize(what), strings.ToLower(enableWord(*v)))
	return nil
}

// checkCertificates refuses pasted text that is not certificates at its
// ".", pointing at the offending line.
func checkCertificates(text string) error {
	_, err := certstore.ParseCertificates(text)
	return err
}

// checkKey refuses pasted text that is not a private key at its ".".
func checkKey(text string) error {
	_, err := certstore.ParsePrivateKey(text)
	return err
}

// checkBatchSecret refuses the mask as a secret (a passphrase, a password):
// it is what the shell shows, and what the line editor recalls, in place of
// the real one.
func checkBatchSecret(what, p string) error {
	if p == shell.Mask {
		return fmt.Errorf("%s is what the shell shows in place of a %s (a line recalled with the arrow keys keeps it): type the real %s instead", shell.Mask, what, what)
	}
	return nil
}

// secretsFrom names the batch arguments from index i on as secret, when
// the first argument is one of words: a secret with a blank typed without
// quotes is split into several words, each of them secret.
func secretsFrom(i int, words ...string) func(args []string) []int {
	return func(args []string) []int {
		if len(words) > 0 && (len(args) == 0 || !containsWord(words, strings.ToLower(args[0]))) {
			return nil
		}
		var out []int
		for j := i; j < len(args); j++ {
			out = append(out, j)
		}
		return out
	}
}

// isAdmin reports whether the session may do everything: an administrator,
// or the machine owner (console and control socket, Role "").
func isAdmin(s *shell.Session) bool { return s.Role == "" || s.Role == config.RoleAdmin }

// refuseOperator refuses what only an administrator may do: commit, or
// change accounts (what names it, e.g. "userconfig NEW"). The role is the
// session's, fixed at login.
func refuseOperator(s *shell.Session, what string) error {
	if isAdmin(s) {
		return nil
	}
	if what == "commit" {
		return fmt.Errorf("operators cannot commit: you are not in the correct access group to use commit (your role is %s); ask an administrator to commit the changes, or drop them with clearchanges", shell.ShowInput(s.Role))
	}
	return fmt.Errorf("operators cannot change user accounts: you are not in the correct access group to use %s (your role is %s); ask an administrator, or change your own password with passwd", what, shell.ShowInput(s.Role))
}

// adminOnly wraps an operation only administrators may run.
func adminOnly(s *shell.Session, what string, run func() error) func() error {
	return func() error {
		if err := refuseOperator(s, what); err != nil {
			return err
		}
		return run()
	}
}

// userItems lists the accounts as the dialogs show them.
func userItems(c *config.Config) []listItem {
	names, texts := make([]string, len(c.Users)), make([]string, len(c.Users))
	for i, u := range c.Users {
		names[i], texts[i] = u.Name, fmt.Sprintf("%s - %q (%s)", u.Name, u.FullName, u.Role)
	}
	return numbered(names, texts)
}

// pickUser asks for an account by name or number; Enter goes back. It
// returns the account's name.
func pickUser(s *shell.Session, c *config.Config, question string) (string, error) {
	i, err := pickFrom(s, question, userItems(c), 0)
	if err != nil {
		return "", err
	}
	return c.Users[i].Name, nil
}

// askNewPassword asks a new password for the account name twice, never
// echoed; valid applies the policy. Enter (an empty password) goes back.
func askNewPassword(s *shell.Session, question string, valid func(string) error) (string, error) {
	pass, err := emptyGoesBack(func(check func(string) error) (string, error) { return s.Secret(question, check) }, valid)
	if err != nil {
		return "", err
	}
	if _, err := s.Secret(againQuestion, func(p string) error {
		if p != pass {
			return errors.New("The passwords do not match: enter the same password twice")
		}
		return nil
	}); err != nil {
		return "", err
	}
	return pass, nil
}

// againQuestion asks a new password the second time.
const againQuestion = "Please enter the new password again:"

// policyCheck applies the policy to a new password for the account name at its prompt.
func policyCheck(c *config.Config, name string) func(string) error {
	return func(p string) error {
		var cur, prev string
		if u, err := c.FindUser(name); err == nil {
			cur, prev = u.PasswordHash, u.PreviousHash
		}
		return c.PasswordPolicy.CheckPassword(name, cur, prev, p)
	}
}

// seconds and fromSeconds convert a configuration duration to and from the
// whole seconds the dialogs and batch forms ask.
func seconds(d config.Duration) int { return int(time.Duration(d) / time.Second) }

func fromSeconds(n int) config.Duration { return config.Duration(time.Duration(n) * time.Second) }

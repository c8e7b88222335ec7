package commands

import (
	"strings"

	"relaybox/shell"
)

const sshconfigForm = "sshconfig userkeys print [USER] | sshconfig userkeys new USER KEY | sshconfig userkeys delete USER NUMBER"

// sshconfig is AsyncOS's home of the accounts' SSH public keys (USERKEYS);
// the SSH port itself is an interface setting (interfaceconfig).
func sshconfig() shell.Command {
	return command("sshconfig", "Manage the SSH public keys that log users in (USERKEYS).", `USERKEYS lists the SSH public keys of your account, then
  NEW     paste one authorized_keys line: type, base64 key, optional comment
          (ssh-ed25519, ecdsa-sha2-*, ssh-rsa of 2048 bits or more; no options)
  DELETE  remove a key (by number)
  PRINT   show a key's whole line
  USER    switch to another account's keys
A key lets its account log in over SSH without a password; an account whose
password login is off (userconfig EDIT PASSWORDLOGIN) logs in with its keys
only. Only administrators add or delete keys. The SSH port is set with
interfaceconfig. Changes are pending until commit.

Batch forms:
  sshconfig userkeys print [USER]
  sshconfig userkeys new USER TYPE BASE64 [COMMENT]
  sshconfig userkeys delete USER NUMBER`, func(s *shell.Session, args []string) error {
		if !strings.EqualFold(args[0], "userkeys") {
			return usage("sshconfig", sshconfigForm)
		}
		return userKeysBatch(s, args[1:], sshconfigForm)
	}, func(s *shell.Session) error {
		return loopMenu(s, nil, fixed(menuOp{"USERKEYS", "Edit SSH User Key settings.", func() error {
			return userKeysMenu(s, keysOwner(s, s.Pending.Config()), true)
		}}))
	})
}

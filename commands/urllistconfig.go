package commands

import (
	"fmt"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

const urllistconfigForm = "urllistconfig new NAME ENTRY[,ENTRY...] | urllistconfig edit NAME [name=NEWNAME] [entries=ENTRY,...] | urllistconfig delete NAME | urllistconfig print [NAME]"

// urllistconfig keeps named lists of domains and URLs; websecurityconfig
// picks one as its allow list, whose URLs are never looked up.
func urllistconfig() shell.Command {
	return command("urllistconfig", "Manage URL lists: named lists of domains and URLs (the URL filtering allow list).", `Shows the URL lists, then offers:
  NEW     a list: its name, then its entries separated by commas
  EDIT    rename a list or replace its entries
  DELETE  a list that websecurityconfig does not use
  PRINT   a list's entries
An entry is a domain (example.com matches example.com and every host below
it; a leading dot is the same) or an http/https URL prefix
(https://example.com/docs matches the URLs that start with it). The list that
websecurityconfig uses as its allow list is never looked up. Changes are
pending until commit.

Batch forms:
  urllistconfig new NAME ENTRY[,ENTRY...]
  urllistconfig edit NAME [name=NEWNAME] [entries=ENTRY,...]
  urllistconfig delete NAME
  urllistconfig print [NAME]`, urlListBatch, func(s *shell.Session) error {
		return loopMenu(s, func() { urlListSummary(s, s.Pending.Config()) }, fixed(
			menuOp{"NEW", "Create a new URL list.", func() error { return urlListNew(s) }},
			menuOp{"EDIT", "Modify a URL list.", func() error { return urlListEdit(s) }},
			menuOp{"DELETE", "Remove a URL list.", func() error { return urlListDelete(s) }},
			menuOp{"PRINT", "Display the entries of a URL list.", func() error { return urlListPrint(s) }},
		))
	})
}

func urlListSummary(s *shell.Session, c *config.Config) {
	lines := make([]string, len(c.URLLists))
	for i, l := range c.URLLists {
		use := ""
		if strings.EqualFold(c.WebSecurity.AllowList, l.Name) {
			use = ", the URL filtering allow list"
		}
		lines[i] = fmt.Sprintf("%d. %s (%d entries%s)", i+1, l.Name, len(l.Entries), use)
	}
	printList(s, "There are no URL lists.", "URL lists:", lines)
}

func urlListItems(c *config.Config) []listItem {
	names, texts := make([]string, len(c.URLLists)), make([]string, len(c.URLLists))
	for i, l := range c.URLLists {
		names[i], texts[i] = l.Name, l.Name
	}
	return numbered(names, texts)
}

func pickURLList(s *shell.Session, c *config.Config, question string) (config.URLList, error) {
	i, err := pickFrom(s, question, urlListItems(c), 0)
	if err != nil {
		return config.URLList{}, err
	}
	return c.URLLists[i], nil
}

func urlListNew(s *shell.Session) error {
	c := s.Pending.Config()
	name, err := askNew(s, "Enter a name for the new URL list:", func(a string) error { return config.CheckName(config.KindURLList, a) })
	if err != nil {
		return err
	}
	entries, err := askList(s, "Enter the domains and URLs of the list, separated by commas (e.g. example.com, https://example.org/docs):", nil, config.ParseURLListEntries)
	if err != nil {
		return err
	}
	return c.PutURLList("", config.URLList{Name: name, Entries: entries})
}

func urlListEdit(s *shell.Session) error {
	c := s.Pending.Config()
	l, err := pickURLList(s, c, "Enter the number or name of the URL list to edit:")
	if err != nil {
		return err
	}
	old := l.Name
	if l.Name, err = s.Text("Enter the name of the URL list:", l.Name, func(a string) error { return config.CheckName(config.KindURLList, a) }); err != nil {
		return err
	}
	entries, err := askList(s, "Enter the domains and URLs of the list, separated by commas:", l.Entries, config.ParseURLListEntries)
	if err != nil {
		return err
	}
	l.Entries = entries
	return c.PutURLList(old, l)
}

func urlListDelete(s *shell.Session) error {
	c := s.Pending.Config()
	l, err := pickURLList(s, c, "Enter the number or name of the URL list to delete:")
	if err != nil {
		return err
	}
	if err := c.DeleteURLList(l.Name); err != nil {
		return err
	}
	s.Printf("URL list %q deleted.\n", l.Name)
	return nil
}

func urlListPrint(s *shell.Session) error {
	c := s.Pending.Config()
	l, err := pickURLList(s, c, "Enter the number or name of the URL list to print:")
	if err != nil {
		return err
	}
	printURLList(s, l)
	return nil
}

func printURLList(s *shell.Session, l config.URLList) {
	s.Printf("\nURL list %s:\n", l.Name)
	for _, e := range l.Entries {
		s.Printf("  %s\n", e)
	}
}

func urlListBatch(s *shell.Session, args []string) error {
	c := s.Pending.Config()
	switch op := strings.ToLower(args[0]); {
	case op == "new" && len(args) >= 3:
		entries, err := config.ParseURLListEntries(splitList(strings.Join(args[2:], ",")))
		if err != nil {
			return err
		}
		return c.PutURLList("", config.URLList{Name: args[1], Entries: entries})
	case op == "edit" && len(args) >= 3:
		l, err := c.FindURLList(args[1])
		if err != nil {
			return err
		}
		kv, err := parseKV(args[2:], "name", "entries")
		if err != nil {
			return err
		}
		n := config.URLList{Name: l.Name, Entries: l.Entries}
		if v, ok := kv["name"]; ok {
			n.Name = v
		}
		if v, ok := kv["entries"]; ok {
			if n.Entries, err = config.ParseURLListEntries(splitList(v)); err != nil {
				return err
			}
		}
		return c.PutURLList(l.Name, n)
	case op == "delete" && len(args) == 2:
		return c.DeleteURLList(args[1])
	case op == "print" && len(args) <= 2:
		if len(args) == 1 {
			urlListSummary(s, c)
			return nil
		}
		l, err := c.FindURLList(args[1])
		if err != nil {
			return err
		}
		printURLList(s, *l)
		return nil
	}
	return usage("urllistconfig", urllistconfigForm)
}

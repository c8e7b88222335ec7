package shell

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Op is one entry of an operation menu.
type Op struct {
	Word        string
	Description string
}

// InputError is an answer that was refused.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// ask shows prompt, reads an answer and checks it. An empty answer takes def.
// A refused answer is explained and asked again on a terminal; in a script it
// ends the command.
func (s *Session) ask(prompt string, check func(string) error, words []string) (string, error) {
	for {
		s.comp.set(words)
		answer, err := s.read(prompt)
		if err != nil {
			return "", err
		}
		answer = strings.TrimSpace(answer)
		if check == nil {
			return answer, nil
		}
		if err := check(answer); err != nil {
			if !s.opts.Interactive {
				return "", &InputError{Err: err}
			}
			s.Println(s.message(err))
			continue
		}
		return answer, nil
	}
}

// Menu shows an operation menu and returns the chosen word in upper case,
// or "" when the user pressed Enter (go back).
func (s *Session) Menu(ops []Op) (string, error) {
	s.Println()
	s.Println("Choose the operation you want to perform:")
	words := make([]string, len(ops))
	for i, op := range ops {
		s.Printf("- %s - %s\n", op.Word, op.Description)
		words[i] = op.Word
	}
	var chosen string
	_, err := s.ask("[]> ", func(a string) error {
		if a == "" {
			chosen = ""
			return nil
		}
		for _, op := range ops {
			if strings.EqualFold(a, op.Word) {
				chosen = op.Word
				return nil
			}
		}
		return fmt.Errorf("Unknown option: %q. Type one of %s, or press Enter to go back", a, strings.Join(words, ", "))
	}, words)
	if errors.Is(err, io.EOF) && !s.opts.Interactive {
		return "", nil // the end of a script backs out of menus
	}
	return chosen, err
}

// Text asks a free-text question; def is shown in brackets and taken on Enter.
func (s *Session) Text(question, def string, check func(string) error) (string, error) {
	s.Println()
	s.Println(question)
	var value string
	_, err := s.ask("["+def+"]> ", func(a string) error {
		if a == "" {
			a = def
		}
		if check != nil {
			if err := check(a); err != nil {
				return err
			}
		}
		value = a
		return nil
	}, nil)
	return value, err
}

// YesNo asks a yes/no question; any answer starting with y or n counts.
func (s *Session) YesNo(question string, def bool) (bool, error) {
	d := "N"
	if def {
		d = "Y"
	}
	var value bool
	_, err := s.ask(question+" ["+d+"]> ", func(a string) error {
		switch {
		case a == "":
			value = def
		case strings.HasPrefix(strings.ToLower(a), "y"):
			value = true
		case strings.HasPrefix(strings.ToLower(a), "n"):
			value = false
		default:
			return fmt.Errorf("Please answer Y or N (got %q)", a)
		}
		return nil
	}, []string{"Y", "N"})
	return value, err
}

// Choose shows a numbered list and returns the chosen index (0-based); def is
// the 1-based default, 0 for none.
func (s *Session) Choose(question string, items []string, def int) (int, error) {
	s.Println()
	s.Println(question)
	for i, it := range items {
		s.Printf("%d. %s\n", i+1, it)
	}
	d := ""
	if def > 0 {
		d = strconv.Itoa(def)
	}
	var value int
	_, err := s.ask("["+d+"]> ", func(a string) error {
		if a == "" {
			a = d
		}
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > len(items) {
			return fmt.Errorf("That value is not valid: enter a number from 1 to %d", len(items))
		}
		value = n - 1
		return nil
	}, nil)
	return value, err
}

// Custom asks with a caller-made bracket prompt, e.g. "[2-4]> ".
func (s *Session) Custom(prompt string, check func(string) error) (string, error) {
	return s.ask(prompt, check, nil)
}

// Block reads pasted lines until a line holding only ".".
func (s *Session) Block(question string) (string, error) {
	s.Println(question)
	s.Println("End with a line containing only \".\".")
	var b strings.Builder
	for {
		line, err := s.read("")
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(line) == "." {
			return b.String(), nil
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
}

// BlockChecked is Block with check run on the text at its ".": a refusal
// ends the dialog there, not after the next questions. When the error knows
// which of the text's lines is at fault (a TextLine() int method, from 1),
// the refusal points there: "line N:" in script mode.
func (s *Session) BlockChecked(question string, check func(text string) error) (string, error) {
	first := s.line + 1 // the script line of the block's first line
	text, err := s.Block(question)
	if err != nil {
		return "", err
	}
	if err := check(text); err != nil {
		var tl interface{ TextLine() int }
		if errors.As(err, &tl) && tl.TextLine() > 0 {
			return "", &LineError{Line: first + tl.TextLine() - 1, Err: err}
		}
		return "", err
	}
	return text, nil
}

// LineError is an error about an earlier input line than the current one:
// script mode reports it as "line Line:".
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// Print writes dialog output as is.
func (s *Session) Print(text string) { io.WriteString(s.out, text) }

// Secret asks for a passphrase: never echoed, never shown in a transcript.
// A reader that cannot hide input (a test double) is refused rather than
// letting the secret show.
func (s *Session) Secret(question string, check func(string) error) (string, error) {
	sr, ok := s.in.(secretReader)
	if !ok {
		return "", errors.New("this input cannot hide a passphrase")
	}
	for {
		a, err := sr.ReadSecret(question + " ")
		if isTooLong(err) {
			s.line++
		}
		if err != nil {
			return "", err
		}
		s.line++
		if check == nil {
			return a, nil
		}
		if err := check(a); err != nil {
			if !s.opts.Interactive {
				return "", &InputError{Err: err}
			}
			s.Println(s.message(err))
			continue
		}
		return a, nil
	}
}

// WaitKey waits for a line (Enter) or Ctrl-C, for commands that run until the
// user stops them.
func (s *Session) WaitKey() (string, error) {
	line, err := s.in.ReadLine("")
	if err == nil {
		s.line++
	}
	return line, err
}

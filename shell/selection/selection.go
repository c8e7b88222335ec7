// Package selection parses answers to numbered multi-select menus: "2", "1-3", "1,2,3", "1-2, 4".
//
// Menus of this kind appear in the appliance CLI, for example the TLS method
// menu, which lists "1. TLS v1.3  2. TLS v1.2  3. TLS v1.1  4. TLS v1.0" and
// accepts answers such as "1-3", "2", "1,2,3", "1-2,3" or " 2 - 4 ". Items are
// numbered from 1; spaces are tolerated around numbers, commas and dashes.
package selection

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// gapPhrase is the appliance's own wording for a non-contiguous TLS
// selection; keep it verbatim, callers and tests search for it.
const gapPhrase = "TLS protocols can be enabled only in sequence"

// Error reports an answer that cannot be accepted, in words meant for the
// person who typed it: it names the offending input and what to type instead.
type Error struct {
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

func errorf(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// span is an inclusive run of item numbers, lo <= hi.
type span struct{ lo, hi int }

// Parse returns the chosen item numbers (1-based), sorted ascending, without duplicates, for a menu of n items.
func Parse(answer string, n int) ([]int, error) {
	spans, err := parseSpans(answer, n)
	if err != nil {
		return nil, err
	}
	return expand(merge(spans)), nil
}

// ParseContiguous is Parse plus the rule that the chosen items form one unbroken run, as TLS protocol menus require.
func ParseContiguous(answer string, n int) ([]int, error) {
	spans, err := parseSpans(answer, n)
	if err != nil {
		return nil, err
	}
	runs := merge(spans)
	if len(runs) > 1 {
		return nil, errorf("%s: %q leaves a gap; choose neighbouring items such as 1-2 or 2-3",
			gapPhrase, strings.TrimSpace(answer))
	}
	return expand(runs), nil
}

// Format renders a sorted selection the way the CLI shows it as a default: "2-4", "2", or "1,3" for a non-contiguous one, "2-3,5".
func Format(items []int) string {
	sorted := slices.Clone(items)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	parts := make([]string, 0, len(sorted))
	for i := 0; i < len(sorted); {
		j := runEnd(sorted, i)
		parts = append(parts, formatRun(sorted[i], sorted[j]))
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// runEnd returns the index of the last element of the run of consecutive
// numbers that starts at sorted[i].
func runEnd(sorted []int, i int) int {
	for i+1 < len(sorted) && sorted[i+1]-1 == sorted[i] {
		i++
	}
	return i
}

func formatRun(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// parseSpans checks the menu size and splits the answer into comma-separated
// items, each a number or a range.
func parseSpans(answer string, n int) ([]span, error) {
	if n < 1 {
		return nil, errorf("selection: a menu needs at least one item, got %d", n)
	}
	if strings.TrimSpace(answer) == "" {
		return nil, emptyAnswerError(n)
	}
	parts := strings.Split(answer, ",")
	spans := make([]span, 0, len(parts))
	for _, part := range parts {
		s, err := parseItem(strings.TrimSpace(part), answer, n)
		if err != nil {
			return nil, err
		}
		spans = append(spans, s)
	}
	return spans, nil
}

func emptyAnswerError(n int) *Error {
	if n == 1 {
		return errorf("no item chosen: enter 1")
	}
	return errorf("no item chosen: enter a number from 1 to %d, a range such as 1-%d, or a list such as 1,2",
		n, min(n, 3))
}

// parseItem parses one comma-separated item, already trimmed: "2" or "1-3".
func parseItem(item, answer string, n int) (span, error) {
	if item == "" {
		return span{}, errorf("empty item in %q: separate numbers with single commas, as 1,2",
			strings.TrimSpace(answer))
	}
	if strings.Count(item, "-") > 1 {
		return span{}, junkError(item)
	}
	loText, hiText, isRange := strings.Cut(item, "-")
	if !isRange {
		v, err := parseNumber(item, item, n)
		return span{v, v}, err
	}
	return parseRange(strings.TrimSpace(loText), strings.TrimSpace(hiText), item, answer, n)
}

// parseRange parses the two trimmed sides of a range item "lo-hi".
func parseRange(loText, hiText, item, answer string, n int) (span, error) {
	if loText == "" || hiText == "" {
		return span{}, errorf("empty item in %q: put a number on each side of the dash, as 1-3",
			strings.TrimSpace(answer))
	}
	lo, err := parseNumber(loText, item, n)
	if err != nil {
		return span{}, err
	}
	hi, err := parseNumber(hiText, item, n)
	if err != nil {
		return span{}, err
	}
	if lo > hi {
		return span{}, errorf("range %q is reversed: write it low to high, as %d-%d", item, hi, lo)
	}
	return span{lo, hi}, nil
}

// parseNumber parses a run of ASCII digits as an item number within 1..n.
// item is the enclosing item, named in the error if text is not a number.
func parseNumber(text, item string, n int) (int, error) {
	if !isDigits(text) {
		return 0, junkError(item)
	}
	v, err := strconv.Atoi(text) // only fails on overflow here
	if err != nil || v < 1 || v > n {
		return 0, errorf("item %s is out of range: choose numbers from 1 to %d", text, n)
	}
	return v, nil
}

func junkError(item string) *Error {
	return errorf("%q is not a number or range: use forms such as 2, 1-3 or 1,2,3", item)
}

// isDigits reports whether s is non-empty and made of ASCII digits only.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// merge sorts spans and joins those that overlap or touch, so that the
// result is a list of disjoint runs separated by gaps.
func merge(spans []span) []span {
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	var runs []span
	for _, s := range sorted {
		last := len(runs) - 1
		if last >= 0 && s.lo-1 <= runs[last].hi {
			runs[last].hi = max(runs[last].hi, s.hi)
			continue
		}
		runs = append(runs, s)
	}
	return runs
}

// expand lists every number of the given disjoint, ascending runs.
func expand(runs []span) []int {
	var items []int
	for _, r := range runs {
		for i := r.lo; ; i++ {
			items = append(items, i)
			if i == r.hi {
				break
			}
		}
	}
	return items
}

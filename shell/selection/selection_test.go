package selection

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		answer string
		n      int
		want   []int
	}{
		{"2", 4, []int{2}},
		{"1", 1, []int{1}},
		{"4", 4, []int{4}},
		{"1-3", 4, []int{1, 2, 3}},
		{"1,2,3", 4, []int{1, 2, 3}},
		{"1-2,3", 4, []int{1, 2, 3}},
		{"1-2, 4", 4, []int{1, 2, 4}},
		{" 2 - 4 ", 4, []int{2, 3, 4}},
		{"\t1 ,\t3 ", 4, []int{1, 3}},
		{"3-3", 4, []int{3}},
		{"1-4", 4, []int{1, 2, 3, 4}},
		{"3,1", 4, []int{1, 3}},
		{"4,1-2", 4, []int{1, 2, 4}},
		{"1,1", 4, []int{1}},
		{"1-3,2", 4, []int{1, 2, 3}},
		{"2-3,1-2", 4, []int{1, 2, 3}},
		{"04", 4, []int{4}},
		{"10-12", 12, []int{10, 11, 12}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/n=%d", tt.answer, tt.n), func(t *testing.T) {
			got, err := Parse(tt.answer, tt.n)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRejects(t *testing.T) {
	const (
		junk   = "%q is not a number or range: use forms such as 2, 1-3 or 1,2,3"
		commas = "empty item in %q: separate numbers with single commas, as 1,2"
		dash   = "empty item in %q: put a number on each side of the dash, as 1-3"
	)
	tests := []struct {
		answer string
		n      int
		want   string
	}{
		{"", 4, "no item chosen: enter a number from 1 to 4, a range such as 1-3, or a list such as 1,2"},
		{"  \t", 4, "no item chosen: enter a number from 1 to 4, a range such as 1-3, or a list such as 1,2"},
		{"", 2, "no item chosen: enter a number from 1 to 2, a range such as 1-2, or a list such as 1,2"},
		{"", 1, "no item chosen: enter 1"},
		{"5", 4, "item 5 is out of range: choose numbers from 1 to 4"},
		{"0", 4, "item 0 is out of range: choose numbers from 1 to 4"},
		{"1-5", 4, "item 5 is out of range: choose numbers from 1 to 4"},
		{"0-2", 4, "item 0 is out of range: choose numbers from 1 to 4"},
		{"2,7", 4, "item 7 is out of range: choose numbers from 1 to 4"},
		{"99999999999999999999", 4, "item 99999999999999999999 is out of range: choose numbers from 1 to 4"},
		{"1-99999999999999999999999", 4, "item 99999999999999999999999 is out of range: choose numbers from 1 to 4"},
		{"3-1", 4, `range "3-1" is reversed: write it low to high, as 1-3`},
		{" 4 - 2 ", 4, `range "4 - 2" is reversed: write it low to high, as 2-4`},
		{"1,,2", 4, fmt.Sprintf(commas, "1,,2")},
		{"1,", 4, fmt.Sprintf(commas, "1,")},
		{",1", 4, fmt.Sprintf(commas, ",1")},
		{" 1 , ", 4, fmt.Sprintf(commas, "1 ,")},
		{",", 4, fmt.Sprintf(commas, ",")},
		{"-3", 4, fmt.Sprintf(dash, "-3")},
		{"1-", 4, fmt.Sprintf(dash, "1-")},
		{"1, 2 - ", 4, fmt.Sprintf(dash, "1, 2 -")},
		{"-", 4, fmt.Sprintf(dash, "-")},
		{"a", 4, fmt.Sprintf(junk, "a")},
		{"1.5", 4, fmt.Sprintf(junk, "1.5")},
		{"1-2-3", 4, fmt.Sprintf(junk, "1-2-3")},
		{"1--3", 4, fmt.Sprintf(junk, "1--3")},
		{"+1", 4, fmt.Sprintf(junk, "+1")},
		{"-1-2", 4, fmt.Sprintf(junk, "-1-2")},
		{"٣", 4, fmt.Sprintf(junk, "٣")},
		{"1 2", 4, fmt.Sprintf(junk, "1 2")},
		{"1;2", 4, fmt.Sprintf(junk, "1;2")},
		{"1-b", 4, fmt.Sprintf(junk, "1-b")},
		{"1, x", 4, fmt.Sprintf(junk, "x")},
		{"0x1", 4, fmt.Sprintf(junk, "0x1")},
		{"1", 0, "selection: a menu needs at least one item, got 0"},
		{"1", -3, "selection: a menu needs at least one item, got -3"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/n=%d", tt.answer, tt.n), func(t *testing.T) {
			for name, parse := range map[string]func(string, int) ([]int, error){
				"Parse": Parse, "ParseContiguous": ParseContiguous,
			} {
				got, err := parse(tt.answer, tt.n)
				assert.Nil(t, got, name)
				var selErr *Error
				require.True(t, errors.As(err, &selErr), "%s: want *Error, got %#v", name, err)
				assert.Equal(t, tt.want, selErr.Message, name)
				assert.Equal(t, tt.want, err.Error(), name)
			}
		})
	}
}

func TestParseContiguous(t *testing.T) {
	got, err := ParseContiguous(" 2 - 3 , 4 ", 4)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3, 4}, got)

	gaps := []struct{ answer, quoted string }{
		{"1,3", `"1,3"`},
		{" 1-2, 4 ", `"1-2, 4"`},
		{"4,1", `"4,1"`},
		{"1,1,3", `"1,1,3"`},
	}
	for _, tt := range gaps {
		t.Run(tt.answer, func(t *testing.T) {
			got, err := ParseContiguous(tt.answer, 4)
			assert.Nil(t, got)
			require.Error(t, err)
			assert.Equal(t, "TLS protocols can be enabled only in sequence: "+tt.quoted+
				" leaves a gap; choose neighbouring items such as 1-2 or 2-3", err.Error())
			assert.True(t, strings.HasPrefix(err.Error(), "TLS protocols can be enabled only in sequence"))
		})
	}
}

// TestParseContiguousExhaustive walks every non-empty subset of a four-item menu.
func TestParseContiguousExhaustive(t *testing.T) {
	const n = 4
	accepted := 0
	for mask := 1; mask < 1<<n; mask++ {
		subset := subsetOf(mask, n)
		contiguous := subset[len(subset)-1]-subset[0]+1 == len(subset)
		answers := []string{joinInts(subset, ","), joinInts(subset, " , "), Format(subset)}
		if contiguous {
			accepted++
			answers = append(answers, fmt.Sprintf("%d-%d", subset[0], subset[len(subset)-1]))
		}
		for _, answer := range answers {
			got, err := Parse(answer, n)
			require.NoError(t, err, answer)
			assert.Equal(t, subset, got, answer)

			got, err = ParseContiguous(answer, n)
			if contiguous {
				require.NoError(t, err, answer)
				assert.Equal(t, subset, got, answer)
				continue
			}
			assert.Nil(t, got, answer)
			require.Error(t, err, answer)
			assert.Contains(t, err.Error(), "TLS protocols can be enabled only in sequence", answer)
		}
	}
	assert.Equal(t, 10, accepted, "contiguous non-empty subsets of {1,2,3,4}")
}

func TestFormat(t *testing.T) {
	tests := []struct {
		items []int
		want  string
	}{
		{nil, ""},
		{[]int{2}, "2"},
		{[]int{2, 3, 4}, "2-4"},
		{[]int{1, 3}, "1,3"},
		{[]int{2, 3, 5}, "2-3,5"},
		{[]int{1, 2, 4, 6, 7, 8}, "1-2,4,6-8"},
		{[]int{9, 10, 11, 12}, "9-12"},
		{[]int{3, 1, 2, 2}, "1-3"}, // tolerates unsorted input and duplicates
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, Format(tt.items))
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	const n = 6
	for mask := 1; mask < 1<<n; mask++ {
		subset := subsetOf(mask, n)
		text := Format(subset)
		got, err := Parse(text, n)
		require.NoError(t, err, text)
		assert.Equal(t, subset, got, text)
	}
}

func TestFormatDoesNotModifyInput(t *testing.T) {
	items := []int{3, 1, 1}
	Format(items)
	assert.Equal(t, []int{3, 1, 1}, items)
}

func FuzzParse(f *testing.F) {
	// The seed corpus lives in testdata/fuzz/FuzzParse.
	f.Fuzz(func(t *testing.T, answer string, n int) {
		n %= 100 // keep memory bounded; negative and zero sizes stay in play
		got, err := Parse(answer, n)
		contiguous, contiguousErr := ParseContiguous(answer, n)
		if err != nil {
			checkError(t, err)
			if contiguousErr == nil || contiguousErr.Error() != err.Error() {
				t.Fatalf("Parse(%q, %d) failed with %v but ParseContiguous gave %v, %v",
					answer, n, err, contiguous, contiguousErr)
			}
			return
		}
		checkSelection(t, answer, n, got)
		if contiguousErr != nil {
			checkError(t, contiguousErr)
			if isRun(got) {
				t.Fatalf("ParseContiguous(%q, %d) refused the run %v: %v", answer, n, got, contiguousErr)
			}
			return
		}
		if !isRun(contiguous) || !slices.Equal(contiguous, got) {
			t.Fatalf("ParseContiguous(%q, %d) = %v, Parse gave %v", answer, n, contiguous, got)
		}
	})
}

// checkSelection checks that items is sorted, unique, within 1..n and survives a Format round trip.
func checkSelection(t *testing.T, answer string, n int, items []int) {
	t.Helper()
	if len(items) == 0 {
		t.Fatalf("Parse(%q, %d) succeeded with no items", answer, n)
	}
	for i, v := range items {
		if v < 1 || v > n || (i > 0 && v <= items[i-1]) {
			t.Fatalf("Parse(%q, %d) = %v: not sorted, unique and within 1..%d", answer, n, items, n)
		}
	}
	text := Format(items)
	again, err := Parse(text, n)
	if err != nil || !slices.Equal(again, items) {
		t.Fatalf("Parse(Format(%v)) = Parse(%q) = %v, %v", items, text, again, err)
	}
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var selErr *Error
	if !errors.As(err, &selErr) || selErr.Message == "" {
		t.Fatalf("error %#v is not a *Error with a message", err)
	}
}

func isRun(items []int) bool {
	return len(items) > 0 && items[len(items)-1]-items[0]+1 == len(items)
}

// subsetOf lists, ascending, the numbers 1..n whose bits are set in mask.
func subsetOf(mask, n int) []int {
	var items []int
	for i := 1; i <= n; i++ {
		if mask&(1<<(i-1)) != 0 {
			items = append(items, i)
		}
	}
	return items
}

func joinInts(items []int, sep string) string {
	texts := make([]string, len(items))
	for i, v := range items {
		texts[i] = strconv.Itoa(v)
	}
	return strings.Join(texts, sep)
}

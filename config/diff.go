package config

import (
	"fmt"
	"strings"
)

// Diff renders a line diff of two configurations' YAML, with the settings
// only (commit metadata left out): "-" for committed, "+" for pending lines,
// two lines of context, and "…" between distant hunks. It is empty when they match.
func Diff(committed, pending *Config) string {
	a := strings.Split(settingsYAML(committed), "\n")
	b := strings.Split(settingsYAML(pending), "\n")
	ops := lineDiff(a, b)
	const context = 2
	keep := make([]bool, len(ops))
	changed := false
	for i, op := range ops {
		if op.kind != ' ' {
			changed = true
			for j := max(0, i-context); j <= min(len(ops)-1, i+context); j++ {
				keep[j] = true
			}
		}
	}
	if !changed {
		return ""
	}
	var out strings.Builder
	gap := false
	for i, op := range ops {
		if !keep[i] {
			gap = true
			continue
		}
		if gap && out.Len() > 0 {
			out.WriteString("  …\n")
		}
		gap = false
		fmt.Fprintf(&out, "%c %s\n", op.kind, op.line)
	}
	return out.String()
}

func settingsYAML(c *Config) string {
	x := c.Clone()
	x.Version, x.User, x.Comment = 0, "", ""
	b, _ := x.Encode()
	// Drop the metadata lines; they always differ and say nothing about settings.
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.HasPrefix(l, "version:") || strings.HasPrefix(l, "time:") || strings.HasPrefix(l, "user:") || strings.HasPrefix(l, "comment:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

type diffOp struct {
	kind byte // ' ', '-', '+'
	line string
}

// lineDiff is a longest-common-subsequence diff; configurations are small.
func lineDiff(a, b []string) []diffOp {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, diffOp{'-', a[i]})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, diffOp{'-', a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, diffOp{'+', b[j]})
	}
	return ops
}

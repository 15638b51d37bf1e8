package collector

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tailBuffer keeps the last max bytes written to it. It trims only when it
// holds twice that, so that a chatty command costs amortised O(1) per byte.
// It is not safe for concurrent use.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.dropped += int64(len(t.buf) + len(p) - t.max)
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		cut := len(t.buf) - t.max
		t.dropped += int64(cut)
		t.buf = append(t.buf[:0], t.buf[cut:]...)
	}
	return n, nil
}

// String returns the kept tail, saying how much came before it.
func (t *tailBuffer) String() string {
	b, dropped := t.buf, t.dropped
	if len(b) > t.max {
		dropped += int64(len(b) - t.max)
		b = b[len(b)-t.max:]
	}
	if dropped == 0 {
		return string(b)
	}
	for len(b) > 0 && !utf8.RuneStart(b[0]) { // do not start mid-rune
		b = b[1:]
		dropped++
	}
	return fmt.Sprintf("[orchestrate: %d earlier bytes of output dropped]\n%s", dropped, b)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	end := len(s)
	for ; n > 0; n-- {
		i := strings.LastIndexByte(s[:end], '\n')
		if i < 0 {
			return s
		}
		end = i
	}
	if end == len(s) {
		return ""
	}
	return s[end+1:]
}

// commandLine renders argv for a message, quoting only what needs it.
func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			a = fmt.Sprintf("%q", a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

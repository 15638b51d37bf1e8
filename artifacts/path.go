package artifacts

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

const (
	defaultMaxPathLen = 1024
	// maxElementLen is the longest file name that ext4, APFS and NTFS all
	// accept (NTFS counts UTF-16 units, so 255 bytes is on the safe side).
	maxElementLen = 255
)

// ValidatePath checks that p can name an artifact: a clean, relative,
// slash-separated path that stays inside the job's tree and that every
// platform a job's tree is checked out on can create. Artifacts are written
// to disk by collectors and by people who download a job's results, so a
// path is refused here rather than trusted there.
//
// The rules: not empty; valid UTF-8; at most 1024 bytes; no NUL or other
// control character; '/' as the only separator (no backslash); not absolute;
// already clean (path.Clean(p) == p: no "//", no trailing '/'); no "." or
// ".." element; no element longer than 255 bytes, ending in a dot or a
// space, or naming a Windows device (CON, PRN, AUX, NUL, COM1-COM9,
// LPT1-LPT9, CONIN$, CONOUT$, in any case, with or without an extension).
//
// The error is a *PathError, with an empty Task, wrapping ErrInvalidPath.
func ValidatePath(p string) error {
	if err := validatePath(p, defaultMaxPathLen); err != nil {
		return err
	}
	return nil
}

// validatePath returns nil or a *PathError. It returns the concrete type so
// that Record can fill in the task; ValidatePath converts it to error.
func validatePath(p string, maxLen int) *PathError {
	reason := pathProblem(p, maxLen)
	if reason == "" {
		return nil
	}
	return &PathError{Path: p, Reason: reason, Err: ErrInvalidPath}
}

// pathProblem says in plain words what is wrong with p, or returns "".
// Specific rules are tried before the path.Clean catch-all so that the
// reason names the actual problem ("contains '..'" rather than "is not
// clean").
func pathProblem(p string, maxLen int) string {
	switch {
	case p == "":
		return "is empty"
	case !utf8.ValidString(p):
		return "is not valid UTF-8"
	case len(p) > maxLen:
		return fmt.Sprintf("is %d bytes long, over the limit of %d", len(p), maxLen)
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == 0:
			return "contains a NUL byte"
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("contains control character 0x%02x", c)
		case c == '\\':
			return "contains a backslash (separate elements with '/')"
		}
	}
	if p[0] == '/' {
		return "is absolute (artifact paths are relative to the job's tree)"
	}
	elems := strings.Split(p, "/")
	for i, e := range elems {
		if r := elementProblem(e, i == len(elems)-1); r != "" {
			return r
		}
	}
	if c := path.Clean(p); c != p {
		// Unreachable with the rules above; kept so that a rule removed
		// later cannot let an unclean path through.
		return fmt.Sprintf("is not clean (path.Clean gives %q)", c)
	}
	return ""
}

// elementProblem checks one slash-separated element of a path.
func elementProblem(e string, last bool) string {
	switch {
	case e == "" && last:
		return "ends with '/'"
	case e == "":
		return "contains an empty element ('//')"
	case e == "..":
		return "contains '..'"
	case e == ".":
		return "contains a '.' element"
	case len(e) > maxElementLen:
		return fmt.Sprintf("has an element of %d bytes, over the limit of %d", len(e), maxElementLen)
	case strings.HasSuffix(e, "."):
		return fmt.Sprintf("has element %q ending in a dot, which Windows drops", e)
	case strings.HasSuffix(e, " "):
		return fmt.Sprintf("has element %q ending in a space, which Windows drops", e)
	case isDeviceName(e):
		return fmt.Sprintf("has element %q, a Windows device name", e)
	}
	return ""
}

// isDeviceName reports whether Windows opens a device instead of a file for
// element e. As in Go's filepath.IsLocal, the name counts up to the first
// dot or colon, without trailing spaces, so "nul.txt" and "COM1 .log" are
// devices too.
func isDeviceName(e string) bool {
	if i := strings.IndexAny(e, ".:"); i >= 0 {
		e = e[:i]
	}
	e = strings.ToUpper(strings.TrimRight(e, " "))
	switch e {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(e) < 4 || (e[:3] != "COM" && e[:3] != "LPT") {
		return false
	}
	switch n := e[3:]; n {
	case "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
		// Windows treats superscript digits as digits here.
		return true
	}
	return false
}

// fold maps paths that a case-insensitive file system would treat as one
// name to one key. It applies the simple per-rune mappings of package
// strings both ways (upper, then lower) so that it catches what NTFS's
// upper-case table and what plain lower-casing catch, e.g. "ſ" and "s".
// It is not full Unicode case folding ("ß" and "SS" stay distinct) and
// does not normalize (NFC and NFD spellings of "é" stay distinct).
func fold(p string) string { return strings.ToLower(strings.ToUpper(p)) }

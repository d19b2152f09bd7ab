package injector

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// parseWords reads a command or argument list. A value starting with '[' must
// be a JSON array of strings; anything else is split like a POSIX shell splits
// words, with single quotes, double quotes and backslashes, but without any
// expansion: no variables, globs or command substitution, because the result
// is exec'd directly and never reaches a shell.
func parseWords(value string) ([]string, error) {
	trimmed := strings.TrimSpace(value)
	if trimmed == "" {
		return nil, errors.New("must not be empty")
	}
	if strings.HasPrefix(trimmed, "[") {
		var words []string
		if err := json.Unmarshal([]byte(trimmed), &words); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %w", err)
		}
		if len(words) == 0 {
			return nil, errors.New("JSON array must not be empty")
		}
		return words, nil
	}
	return splitShellWords(trimmed)
}

func splitShellWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			// Inside double quotes a backslash only escapes the characters
			// a shell treats specially there; elsewhere it escapes anything.
			if quote == '"' && r != '"' && r != '\\' && r != '$' && r != '`' && r != '\n' {
				cur.WriteRune('\\')
			}
			if r != '\n' {
				cur.WriteRune(r)
			}
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	switch {
	case escaped && quote == 0:
		return nil, errors.New("ends with a lone backslash")
	case quote != 0:
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// splitList splits a comma list, trimming spaces around items. Empty items
// are errors: "a,,b" or a trailing comma is almost always a typo.
func splitList(value string) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, errors.New("must not be empty")
	}
	parts := strings.Split(value, ",")
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("item %d is empty", i+1)
		}
		out = append(out, p)
	}
	return out, nil
}

package schema

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting canonicalJSON accepts; MySQL allows 100.
const maxJSONDepth = 512

// canonicalJSON rewrites the text of a MySQL JSON value into the one form
// both paths agree on. MySQL prints a JSON value with ", " and ": "
// separators and its keys ordered by length; go-mysql renders the binlog's
// binary JSON compactly with keys in byte order and <, > and & escaped. The
// canonical form is compact, orders object members by key bytes, escapes
// strings as [appendString] does, keeps integers' digits and writes other
// numbers as the shortest form of their float64. Empty input is the JSON null
// (MySQL's reading of an empty JSON value).
func canonicalJSON(in []byte) (string, error) {
	if len(bytes.TrimSpace(in)) == 0 {
		return "null", nil
	}
	p := jsonParser{in: in}
	out, err := p.value(make([]byte, 0, len(in)), 0)
	if err != nil {
		return "", fmt.Errorf("canonicalize json: %w", err)
	}
	p.space()
	if p.pos != len(in) {
		return "", fmt.Errorf("canonicalize json: trailing data at offset %d", p.pos)
	}
	return string(out), nil
}

type jsonParser struct {
	in  []byte
	pos int
}

var errJSONEnd = errors.New("unexpected end of input")

func (p *jsonParser) space() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(out []byte, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("nested too deeply")
	}
	p.space()
	if p.pos >= len(p.in) {
		return nil, errJSONEnd
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		p.pos++
		out = append(out, '[')
		p.space()
		if p.pos < len(p.in) && p.in[p.pos] == ']' {
			p.pos++
			return append(out, ']'), nil
		}
		for {
			var err error
			if out, err = p.value(out, depth+1); err != nil {
				return nil, err
			}
			p.space()
			if p.pos >= len(p.in) {
				return nil, errJSONEnd
			}
			switch p.in[p.pos] {
			case ',':
				p.pos++
				out = append(out, ',')
			case ']':
				p.pos++
				return append(out, ']'), nil
			default:
				return nil, fmt.Errorf("unexpected %q at offset %d", p.in[p.pos], p.pos)
			}
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return appendString(out, s), nil
	case c == 't':
		return p.literal(out, "true")
	case c == 'f':
		return p.literal(out, "false")
	case c == 'n':
		return p.literal(out, "null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number(out)
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", p.in[p.pos], p.pos)
}

type jsonMember struct {
	key   string
	value []byte
}

func (p *jsonParser) object(out []byte, depth int) ([]byte, error) {
	p.pos++ // {
	var members []jsonMember
	p.space()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return append(out, '{', '}'), nil
	}
	for {
		p.space()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return nil, fmt.Errorf("expected an object key at offset %d", p.pos)
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return nil, fmt.Errorf("expected ':' at offset %d", p.pos)
		}
		p.pos++
		v, err := p.value(nil, depth+1)
		if err != nil {
			return nil, err
		}
		members = append(members, jsonMember{key: key, value: v})
		p.space()
		if p.pos >= len(p.in) {
			return nil, errJSONEnd
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] != '}' {
			return nil, fmt.Errorf("unexpected %q at offset %d", p.in[p.pos], p.pos)
		}
		p.pos++
		break
	}
	slices.SortStableFunc(members, func(a, b jsonMember) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, m.key)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}

func (p *jsonParser) literal(out []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(p.in[p.pos:], []byte(lit)) {
		return nil, fmt.Errorf("invalid literal at offset %d", p.pos)
	}
	p.pos += len(lit)
	return append(out, lit...), nil
}

func (p *jsonParser) number(out []byte) ([]byte, error) {
	start := p.pos
	integer := true
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c >= '0' && c <= '9' || c == '-' || c == '+' {
			p.pos++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' {
			integer = false
			p.pos++
			continue
		}
		break
	}
	lit := string(p.in[start:p.pos])
	if integer {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.AppendInt(out, i, 10), nil
		}
		if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return strconv.AppendUint(out, u, 10), nil
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("invalid number %q", lit)
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	return appendFloat(out, f, 64), nil
}

// str decodes the JSON string at p.pos. Each byte of invalid UTF-8 becomes
// U+FFFD, so the canonical form is stable when canonicalized again.
func (p *jsonParser) str() (string, error) {
	s, err := p.rawStr()
	if err != nil || utf8.ValidString(s) {
		return s, err
	}
	return string([]rune(s)), nil
}

func (p *jsonParser) rawStr() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '"' {
			s := string(p.in[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		p.pos++
	}
	buf := append([]byte(nil), p.in[start:p.pos]...)
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.in) {
			return "", errJSONEnd
		}
		e := p.in[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", fmt.Errorf("invalid \\u escape at offset %d", p.pos)
			}
			if utf16.IsSurrogate(r) {
				if p.pos+1 < len(p.in) && p.in[p.pos] == '\\' && p.in[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if r2, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							buf = utf8.AppendRune(buf, d)
							continue
						}
					}
					p.pos = save
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", fmt.Errorf("invalid escape \\%c at offset %d", e, p.pos-2)
		}
	}
	return "", errJSONEnd
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.in) {
		return 0, false
	}
	var r rune
	for _, c := range p.in[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

package main

// A single-pass reader for the common shape of an observation: one flat JSON object whose strings have no
// escapes. It finds the eight fields without building a document; anything else (escapes, nested values,
// repeated fields, malformed JSON) returns ok=false and the record goes through fastjson, which decides.

// token is one field's JSON value: its kind and its text (a string's content without the quotes).
type token struct {
	kind byte // 's' string, 'n' number, 't' true, 'f' false, 'z' null or absent, 'o' object or array
	text []byte
}

// String is the value as JSON text, for rejection reasons.
func (t token) String() string {
	if t.kind == 's' {
		return `"` + string(t.text) + `"`
	}
	return string(t.text)
}

// fields are the observation's JSON fields, in the order of observationFields.
type fields [8]token

var observationFields = [8]string{"tag_id", "gateway_id", "rssi", "ts", "tx_power", "battery", "temperature", "seq"}

const (
	fTag = iota
	fGateway
	fRssi
	fTs
	fTxPower
	fBattery
	fTemperature
	fSeq
)

// fieldIndex finds a key among observationFields by its length first (called for every key of every record).
func fieldIndex(key []byte) int {
	switch len(key) {
	case 2:
		if string(key) == "ts" {
			return fTs
		}
	case 3:
		if string(key) == "seq" {
			return fSeq
		}
	case 4:
		if string(key) == "rssi" {
			return fRssi
		}
	case 6:
		if string(key) == "tag_id" {
			return fTag
		}
	case 7:
		if string(key) == "battery" {
			return fBattery
		}
	case 8:
		if string(key) == "tx_power" {
			return fTxPower
		}
	case 10:
		if string(key) == "gateway_id" {
			return fGateway
		}
	case 11:
		if string(key) == "temperature" {
			return fTemperature
		}
	}
	return -1
}

func scanFields(b []byte, out *fields) (ok bool) {
	for i := range out {
		out[i] = token{kind: 'z'}
	}
	seen := 0
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		key, next, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		value, next, ok := scanValue(b, i)
		if !ok {
			return false
		}
		if f := fieldIndex(key); f >= 0 {
			if seen&(1<<f) != 0 {
				return false // a repeated field: let the full parser apply its rule
			}
			seen |= 1 << f
			out[f] = value
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return skipSpace(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the string starting at b[i] == '"'; escapes and control characters are left to fastjson.
func scanString(b []byte, i int) (text []byte, next int, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func scanValue(b []byte, i int) (t token, next int, ok bool) {
	if i >= len(b) {
		return t, 0, false
	}
	switch c := b[i]; {
	case c == '"':
		text, next, ok := scanString(b, i)
		return token{'s', text}, next, ok
	case c == '-' || (c >= '0' && c <= '9'):
		end := scanNumber(b, i)
		return token{'n', b[i:end]}, end, end > i
	case hasLiteral(b, i, "true"):
		return token{'t', b[i : i+4]}, i + 4, true
	case hasLiteral(b, i, "false"):
		return token{'f', b[i : i+5]}, i + 5, true
	case hasLiteral(b, i, "null"):
		return token{'z', b[i : i+4]}, i + 4, true
	}
	return t, 0, false // objects, arrays, anything else
}

func hasLiteral(b []byte, i int, word string) bool {
	return len(b)-i >= len(word) && string(b[i:i+len(word)]) == word
}

// scanNumber returns the end of the JSON number at b[i], or i when it is not one:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return i
	}
	if j < len(b) && b[j] == '.' {
		k := j + 1
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k == j+1 {
			return i
		}
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		k := j + 1
		if k < len(b) && (b[k] == '+' || b[k] == '-') {
			k++
		}
		start := k
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k == start {
			return i
		}
		j = k
	}
	return j
}

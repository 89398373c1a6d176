package main

import "errors"

var (
	errNotTimestamp = errors.New("expected RFC 3339 or epoch ms")
	errNoZone       = errors.New("needs a time zone (Z or +hh:mm)")
)

// parseTimestamp reads an RFC 3339 time (also the ISO forms Python's fromisoformat takes for it: a space or a
// lowercase t as separator, no seconds, a comma before the fraction, +hhmm) as UTC microseconds since the epoch.
// Digits of the fraction past the sixth are dropped, as Python does.
func parseTimestamp(s []byte) (int64, error) {
	if len(s) < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' {
		return 0, errNotTimestamp
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 {
		return 0, errNotTimestamp
	}
	rest := s[16:]
	second, micros := 0, 0
	if len(rest) >= 3 && rest[0] == ':' {
		var ok bool
		if second, ok = digits(rest[1:3]); !ok || second > 59 {
			return 0, errNotTimestamp
		}
		rest = rest[3:]
		if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
			n := 1
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				if n <= 6 {
					micros = micros*10 + int(rest[n]-'0')
				}
				n++
			}
			if n == 1 {
				return 0, errNotTimestamp
			}
			for i := n; i <= 6; i++ { // fewer than six digits: scale up
				micros *= 10
			}
			rest = rest[n:]
		}
	}
	offset, err := zoneOffsetSeconds(rest)
	if err != nil {
		return 0, err
	}
	seconds := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second) - offset
	return seconds*1_000_000 + int64(micros), nil
}

func zoneOffsetSeconds(z []byte) (int64, error) {
	switch {
	case len(z) == 0:
		return 0, errNoZone
	case len(z) == 1 && (z[0] == 'Z' || z[0] == 'z'):
		return 0, nil
	case z[0] != '+' && z[0] != '-':
		return 0, errNotTimestamp
	}
	var hh, mm int
	var ok1, ok2 bool
	switch {
	case len(z) == 6 && z[3] == ':':
		hh, ok1 = digits(z[1:3])
		mm, ok2 = digits(z[4:6])
	case len(z) == 5:
		hh, ok1 = digits(z[1:3])
		mm, ok2 = digits(z[3:5])
	default:
		return 0, errNotTimestamp
	}
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, errNotTimestamp
	}
	offset := int64(hh*3600 + mm*60)
	if z[0] == '-' {
		offset = -offset
	}
	return offset, nil
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

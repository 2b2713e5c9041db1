package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
)

// Complaint is a citizen's complaint, from Open311 or the desk.
type Complaint struct {
	Channel     string // SourceOpen311 or SourceDesk
	Category    string // air, water, noise, other
	Description string
	Lat, Lon    *float64
	// Point is the service point the complaint names, if any; else it
	// routes by the nearest station.
	Point string
	// ReceivedAt is when the complaint was received: for a walk-in or a
	// call, the desk enters it; zero means now.
	ReceivedAt time.Time
	// Personal data, sealed at rest.
	Name, Phone, Email string
	// PublicName is the complainant's choice to have the name shown.
	PublicName bool
	// By is who entered it.
	By string
}

// Receipt is what a complaint gets back.
type Receipt struct {
	RequestID    string `json:"service_request_id"`
	Token        string `json:"token"`
	CaseID       string `json:"case_id"`
	Merged       bool   `json:"merged"`
	Corroborated bool   `json:"corroborated"`
}

// The longest free text a complaint may hold, in characters (Unicode code
// points); Submit refuses a longer one. Open311 GeoReport v2 fixes no
// length for any field, so these are envmon's own: they bound what one
// complaint stores and every public listing of requests serves.
const (
	// MaxDescription is ample for a complaint; GeoReport v2 leaves the
	// description's length open.
	MaxDescription = 4000
	// MaxName bounds the name (for Open311, first and last name joined).
	MaxName = 200
	// MaxPhone bounds the phone: an E.164 number has at most 15 digits
	// (ITU-T E.164, section 6.1), and the rest leaves room for a prefix,
	// spaces, dashes and an extension.
	MaxPhone = 32
	// MaxEmail bounds the e-mail: RFC 5321, section 4.5.3.1.3, limits a
	// path to 256 octets, which is 254 without its angle brackets (RFC
	// 3696, erratum 1690).
	MaxEmail = 254
)

// BadRequest is a complaint or action the service refuses as malformed.
type BadRequest string

func (b BadRequest) Error() string { return string(b) }

// Submit files a complaint: it is routed, merged into an open complaint
// case of the same category near in place and time, or opens a new case,
// and linked to alert episodes of the same medium near it (corroborated).
func (s *Service) Submit(ctx context.Context, c Complaint) (Receipt, error) {
	now := s.cfg.Now()
	if !slices.Contains(Categories, c.Category) {
		return Receipt{}, BadRequest(fmt.Sprintf("category %q is not one of %s", c.Category, strings.Join(Categories, ", ")))
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"description", c.Description, MaxDescription}, {"name", c.Name, MaxName}, {"phone", c.Phone, MaxPhone}, {"email", c.Email, MaxEmail}} {
		if n := utf8.RuneCountInString(f.v); n > f.max {
			return Receipt{}, BadRequest(fmt.Sprintf("%s is %d characters long; at most %d are taken", f.name, n, f.max))
		}
	}
	if (c.Lat == nil) != (c.Lon == nil) {
		return Receipt{}, BadRequest("give both lat and long, or neither")
	}
	if c.Lat != nil && (*c.Lat < -90 || *c.Lat > 90 || *c.Lon < -180 || *c.Lon > 180) {
		return Receipt{}, BadRequest("lat or long is off the Earth")
	}
	if c.ReceivedAt.IsZero() || c.ReceivedAt.After(now) {
		c.ReceivedAt = now
	}
	if c.Channel == "" {
		c.Channel = SourceDesk
	}
	if c.By == "" {
		c.By = c.Channel
	}
	desc := scrub(c.Description, c.Name, c.Phone, c.Email)
	var r route
	switch {
	case c.Point != "":
		var ok bool
		if r, ok = s.routePoint(c.Point); !ok {
			return Receipt{}, BadRequest(fmt.Sprintf("no service point %q", c.Point))
		}
	case c.Lat != nil:
		if st, ok := s.nearest(*c.Lat, *c.Lon, mediumOf(c.Category)); ok {
			r = s.routeStation(st)
		} else {
			r.team = s.cfg.DefaultTeam
		}
	default:
		r.team = s.cfg.DefaultTeam
	}
	r.lat, r.lon = c.Lat, c.Lon
	reqID := "sr-" + randomID(6)
	token := randomID(12)
	rc := Receipt{RequestID: reqID, Token: token}
	keys := s.cfg.Keys
	seal := func(v, what string) string { return keys.Seal(v, "complainant:"+reqID+":"+what) }
	var created *Case
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		created = nil
		rc.Merged, rc.Corroborated = false, false
		// Serialise complaints across replicas, so that two near each
		// other never both open a case.
		lock := `SELECT name FROM cases_locks WHERE name = 'complaints'`
		if s.db.Engine() == db.Postgres {
			lock += " FOR UPDATE"
		}
		var name string
		if err := tx.QueryRowContext(ctx, lock).Scan(&name); err != nil {
			return err
		}
		caseID, err := s.mergeTarget(ctx, tx, c)
		if err != nil {
			return err
		}
		if caseID != "" {
			rc.Merged = true
			if err := addEvent(ctx, tx, caseID, now, c.By, "merged", "", "", "complaint "+reqID+" merged: same category, near in place and time"); err != nil {
				return err
			}
		} else {
			caseID = "case-" + randomID(6)
			if _, err := s.insertCase(ctx, tx, caseID, c.Channel, c.Category, "", r, desc, c.ReceivedAt, now, c.By); err != nil {
				return err
			}
		}
		rc.CaseID = caseID
		if _, err := tx.ExecContext(ctx, `INSERT INTO cases_complainants (id, token_hash, case_id, channel, category, name_enc, phone_enc, email_enc, phone_hash, public_name, description, lat, lon, received_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			reqID, auth.Hash(token), caseID, c.Channel, c.Category, seal(c.Name, "name"), seal(c.Phone, "phone"), seal(c.Email, "email"), keys.PhoneHash(c.Phone),
			b2i(c.PublicName), desc, nullF(c.Lat), nullF(c.Lon), ms(c.ReceivedAt), ms(now)); err != nil {
			return err
		}
		if c.Lat != nil {
			corr, err := s.corroborate(ctx, tx, caseID, *c.Lat, *c.Lon, c.Category, c.ReceivedAt, now)
			if err != nil {
				return err
			}
			rc.Corroborated = corr
		}
		if !rc.Merged {
			created, err = getCase(ctx, tx, caseID)
		}
		return err
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("cases: file complaint: %w", err)
	}
	s.log.Info("complaint filed", "request", reqID, "case", rc.CaseID, "channel", c.Channel, "category", c.Category, "merged", rc.Merged, "corroborated", rc.Corroborated)
	if created != nil {
		s.hub.Publish(Change{Type: "opened", Case: created.ID, State: created.State, Team: created.Team, Grid: created.Grid, Source: created.Source})
	}
	s.poke()
	return rc, nil
}

// withheld is what scrub puts in place of personal data.
const withheld = "[withheld]"

var (
	// mobileRE is a Chinese mobile number: 1[3-9] and nine digits (the
	// 13x to 19x blocks of MIIT's numbering plan), digits optionally
	// split by a space or a dash, with an optional 86, +86 or 0086 prefix.
	mobileRE = regexp.MustCompile(`(?:(?:\+|00)?86[\s\-]*)?1[3-9](?:[\s\-]?\d){9}`)
	emailRE  = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// phoneSep is what may stand between the digits of a phone number.
	phoneSep = `[\s\-.()]*`
)

// minPhoneDigits is the fewest digits of a phone number scrub looks for:
// China's subscriber numbers are 7 or 8 digits after the area code, so a
// shorter one is no phone number and would only wipe unrelated figures.
const minPhoneDigits = 7

// scrub replaces the complainant's own name, phone and e-mail in free text
// with a mark, so that they are not stored or shown in clear. It also
// replaces any e-mail address and any Chinese mobile number, and it finds
//   - the name whole, each of its words of at least 2 characters, and its
//     words run together in either order (赵 晓兰 as 赵晓兰), ignoring case;
//     a word in Latin letters only where it is a whole word;
//   - the phone by its digits, however spaced or dashed, with or without
//     the +86 or 0086 prefix.
func scrub(text, name, phone, email string) string {
	if e := strings.TrimSpace(email); utf8.RuneCountInString(e) >= 2 {
		text = replaceFold(text, e, false)
	}
	text = emailRE.ReplaceAllString(text, withheld)
	if re := phoneRE(phone); re != nil {
		text = replaceDigits(text, re)
	}
	text = replaceDigits(text, mobileRE)
	for _, n := range nameForms(name) {
		text = replaceFold(text, n, true)
	}
	return text
}

// nameForms are the forms of name that scrub looks for, longest first.
func nameForms(name string) []string {
	words := strings.Fields(name)
	forms := []string{strings.Join(words, " ")}
	if len(words) > 1 {
		rev := slices.Clone(words)
		slices.Reverse(rev)
		forms = append(forms, strings.Join(rev, " "), strings.Join(words, ""), strings.Join(rev, ""))
		forms = append(forms, words...)
	}
	forms = slices.DeleteFunc(forms, func(f string) bool { return utf8.RuneCountInString(f) < 2 })
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(forms)
}

// replaceFold replaces every match of lit in text, ignoring case; with
// words, a match that begins or ends with a letter or digit must not run
// on into another.
func replaceFold(text, lit string, words bool) string {
	pat := regexp.QuoteMeta(lit)
	if words {
		if r, _ := utf8.DecodeRuneInString(lit); isASCIIWord(r) {
			pat = `\b` + pat
		}
		if r, _ := utf8.DecodeLastRuneInString(lit); isASCIIWord(r) {
			pat += `\b`
		}
	}
	return regexp.MustCompile(`(?i)`+pat).ReplaceAllString(text, withheld)
}

func isASCIIWord(r rune) bool {
	return r < utf8.RuneSelf && (r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

// phoneRE matches the digits of phone (without a leading 86 or 0086 when
// there are more than 11), any separators between them, and an optional
// 86, +86 or 0086 prefix; nil if phone has fewer than minPhoneDigits digits.
func phoneRE(phone string) *regexp.Regexp {
	var digits []string
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			digits = append(digits, string(r))
		}
	}
	d := strings.Join(digits, "")
	switch {
	case strings.HasPrefix(d, "0086") && len(d) > 13:
		digits = digits[4:]
	case strings.HasPrefix(d, "86") && len(d) > 11:
		digits = digits[2:]
	}
	if len(digits) < minPhoneDigits {
		return nil
	}
	return regexp.MustCompile(`(?:(?:\+|00)?86` + phoneSep + `)?` + strings.Join(digits, phoneSep))
}

// replaceDigits replaces the leftmost matches of re in text that are not
// part of a longer run of digits. re's matches begin with an ASCII byte.
func replaceDigits(text string, re *regexp.Regexp) string {
	var b strings.Builder
	last, pos := 0, 0
	for pos < len(text) {
		m := re.FindStringIndex(text[pos:])
		if m == nil {
			break
		}
		start, end := pos+m[0], pos+m[1]
		if start > 0 && isDigit(text[start-1]) || end < len(text) && isDigit(text[end]) {
			pos = start + 1
			continue
		}
		b.WriteString(text[last:start])
		b.WriteString(withheld)
		last, pos = end, end
	}
	b.WriteString(text[last:])
	return b.String()
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// mergeTarget returns the open complaint case that c merges into, or "".
// A resolved case is not open to merging: it shows closed on Open311 and
// nobody works it any more.
func (s *Service) mergeTarget(ctx context.Context, tx *sql.Tx, c Complaint) (string, error) {
	if c.Lat == nil {
		return "", nil
	}
	w := s.cfg.Merge.Within
	rows, err := tx.QueryContext(ctx, `SELECT id, lat, lon FROM cases_cases
		WHERE source <> 'alert' AND category = $1 AND state NOT IN ('resolved', 'closed') AND lat IS NOT NULL AND received_at >= $2 AND received_at <= $3
		ORDER BY received_at, id`, c.Category, ms(c.ReceivedAt.Add(-w)), ms(c.ReceivedAt.Add(w)))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var lat, lon float64
		if err := rows.Scan(&id, &lat, &lon); err != nil {
			return "", err
		}
		if distance(*c.Lat, *c.Lon, lat, lon) <= s.cfg.Merge.Meters {
			return id, nil
		}
	}
	return "", rows.Err()
}

// corroborate links case id to every alert episode of the category's
// medium within the distance, firing within the window of at, and marks
// it corroborated.
func (s *Service) corroborate(ctx context.Context, tx *sql.Tx, id string, lat, lon float64, category string, at, now time.Time) (bool, error) {
	m := mediumOf(category)
	if m == "" {
		return false, nil
	}
	w := s.cfg.Corroborate.Within
	rows, err := tx.QueryContext(ctx, `SELECT episode_id, case_id, lat, lon, firing_at, resolved_at FROM cases_alerts
		WHERE medium = $1 AND lat IS NOT NULL AND firing_at <= $2 AND (resolved_at IS NULL OR resolved_at >= $3)`,
		string(m), ms(at.Add(w)), ms(at.Add(-w)))
	if err != nil {
		return false, err
	}
	type hit struct{ ep, cs string }
	var hits []hit
	for rows.Next() {
		var ep, cs string
		var alat, alon float64
		var f int64
		var r sql.NullInt64
		if err := rows.Scan(&ep, &cs, &alat, &alon, &f, &r); err != nil {
			rows.Close()
			return false, err
		}
		if distance(lat, lon, alat, alon) <= s.cfg.Corroborate.Meters {
			hits = append(hits, hit{ep, cs})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(hits) == 0 {
		return false, err
	}
	link := `INSERT INTO cases_links (case_id, kind, ref, at) VALUES ($1, $2, $3, $4) ON CONFLICT (case_id, kind, ref) DO NOTHING`
	for _, h := range hits {
		for _, l := range [][3]string{{id, "alert", h.ep}, {id, "case", h.cs}, {h.cs, "complaint", id}} {
			if l[0] == l[2] {
				continue
			}
			if _, err := tx.ExecContext(ctx, link, l[0], l[1], l[2], ms(now)); err != nil {
				return false, err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET corroborated = 1 WHERE id = $1`, id); err != nil {
		return false, err
	}
	if err := addEvent(ctx, tx, id, now, "system", "corroborated", "", "", fmt.Sprintf("alert episode %s of the same medium within %.0f m and %s", hits[0].ep, s.cfg.Corroborate.Meters, w)); err != nil {
		return false, err
	}
	return true, nil
}

// errIs reports whether err is a BadRequest.
func isBadRequest(err error) bool {
	var b BadRequest
	return errors.As(err, &b)
}

package station

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// File is the content of a station registry file (docs/REGISTRY.md): the
// service points, the stations at them, the teams that cover the grid, and
// the embedded MQTT broker's read-only users.
type File struct {
	Points   []Point
	Stations []Station
	Teams    []Team
	// Readers are read-only users of the embedded MQTT broker.
	Readers []Reader
}

// Error is one problem in a registry file, at a line of it.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// maxErrors bounds the problems Load reports.
const maxErrors = 20

// Load reads and checks a registry file. Every problem is reported, each
// as an *Error that names the file and line: unknown keys, bad values,
// duplicate ids, unknown points, coordinates off the Earth, unknown time
// zones and metrics, bad password hashes. The errors are joined.
func Load(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("station registry: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a registry file's content; name is the file's name in the
// errors.
func Parse(name string, data []byte) (File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return File{}, &Error{File: name, Line: 1, Msg: "the station registry is empty: want points and stations"}
	}
	return DecodeNode(name, doc.Content[0])
}

// DecodeNode decodes a registry from a YAML mapping node, such as the
// registry section of a scenario file; name is the file it came from.
func DecodeNode(name string, n *yaml.Node) (File, error) {
	d := &decoder{name: name}
	f := d.file(n)
	if len(d.errs) == 0 {
		return f, nil
	}
	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
	errs := make([]error, 0, maxErrors+1)
	for i, e := range d.errs {
		if i == maxErrors {
			errs = append(errs, fmt.Errorf("%s: and %d more problems", name, len(d.errs)-maxErrors))
			break
		}
		errs = append(errs, e)
	}
	return File{}, errors.Join(errs...)
}

// decoder walks a registry's YAML nodes and collects the problems.
type decoder struct {
	name string
	errs []*Error
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.name, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// fields returns a mapping's values by key, reporting keys not in keys and
// keys given twice. It returns nil if n is not a mapping.
func (d *decoder) fields(n *yaml.Node, where string, keys ...string) map[string]*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: want a mapping of %s", where, strings.Join(keys, ", "))
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 { // name the entry by its id
		if k, v := n.Content[i], n.Content[i+1]; (k.Value == "id" || k.Value == "username") && v.Kind == yaml.ScalarNode {
			where = fmt.Sprintf("%s (%s)", where, v.Value)
			break
		}
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		switch {
		case !slices.Contains(keys, k.Value):
			d.errf(k, "%s: unknown key %q (want %s)", where, k.Value, strings.Join(keys, ", "))
		case out[k.Value] != nil:
			d.errf(k, "%s: key %q is given twice", where, k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

// list returns a sequence's items; a missing or null node is empty.
func (d *decoder) list(n *yaml.Node, where string) []*yaml.Node {
	if n == nil || n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s: want a list", where)
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// str returns a scalar's text; a missing or null node is "".
func (d *decoder) str(n *yaml.Node, where string) string {
	if n == nil || n.Tag == "!!null" {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errf(n, "%s: want a single value", where)
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (d *decoder) strs(n *yaml.Node, where string) []string {
	var out []string
	for _, c := range d.list(n, where) {
		out = append(out, d.str(c, where))
	}
	return out
}

func (d *decoder) float(n *yaml.Node, where string) (float64, bool) {
	var f float64
	if n.Kind != yaml.ScalarNode || n.Decode(&f) != nil {
		d.errf(n, "%s: %q is not a number", where, n.Value)
		return 0, false
	}
	return f, true
}

// name decodes a name: one string for both languages, or {zh, en}.
func (d *decoder) nameOf(n *yaml.Node, where string) Name {
	if n == nil || n.Tag == "!!null" {
		return Name{}
	}
	if n.Kind == yaml.ScalarNode {
		s := d.str(n, where)
		return Name{Zh: s, En: s}
	}
	f := d.fields(n, where, "zh", "en")
	return Name{Zh: d.str(f["zh"], where+".zh"), En: d.str(f["en"], where+".en")}
}

// grid decodes a grid cell: {county, township, village}, or a path
// "county/township/village".
func (d *decoder) grid(n *yaml.Node, where string) Grid {
	var g Grid
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(d.str(n, where), "/")
		if len(parts) > 3 {
			d.errf(n, "%s: %q has more than three levels (county/township/village)", where, n.Value)
			return Grid{}
		}
		parts = append(parts, "", "")
		g = Grid{County: strings.TrimSpace(parts[0]), Township: strings.TrimSpace(parts[1]), Village: strings.TrimSpace(parts[2])}
	} else {
		f := d.fields(n, where, "county", "township", "village")
		g = Grid{County: d.str(f["county"], where+".county"), Township: d.str(f["township"], where+".township"), Village: d.str(f["village"], where+".village")}
	}
	switch {
	case g.County == "":
		d.errf(n, "%s: county is required", where)
	case g.Village != "" && g.Township == "":
		d.errf(n, "%s: a village or community needs its township or street", where)
	}
	return g
}

func (d *decoder) file(n *yaml.Node) File {
	var f File
	top := d.fields(n, "station registry", "points", "stations", "teams", "readers")
	if top == nil {
		return f
	}
	ids := map[string]bool{} // station ids and reader usernames: one MQTT namespace
	points := map[string]Point{}
	for i, pn := range d.list(top["points"], "points") {
		p, ok := d.point(pn, i, points)
		if ok {
			points[p.ID] = p
			f.Points = append(f.Points, p)
		}
	}
	media := map[string][]reading.Medium{} // per point, for specialised points
	for i, sn := range d.list(top["stations"], "stations") {
		s, ok := d.station(sn, i, points, ids)
		if !ok {
			continue
		}
		ids[s.ID] = true
		f.Stations = append(f.Stations, s)
		if p, ok := points[s.Point]; ok && p.Type == Specialised {
			for _, m := range s.Media {
				if !slices.Contains(media[s.Point], m) {
					media[s.Point] = append(media[s.Point], m)
				}
			}
			if len(media[s.Point]) > 1 {
				d.errf(sn, "stations[%d] (%s): point %s is specialised but its stations measure %v: make it comprehensive", i, s.ID, s.Point, media[s.Point])
			}
		}
	}
	teams := map[string]bool{}
	for i, tn := range d.list(top["teams"], "teams") {
		if t, ok := d.team(tn, i, f.Points, teams); ok {
			teams[t.ID] = true
			f.Teams = append(f.Teams, t)
		}
	}
	for i, rn := range d.list(top["readers"], "readers") {
		if rd, ok := d.reader(rn, i, ids); ok {
			ids[rd.Username] = true
			f.Readers = append(f.Readers, rd)
		}
	}
	return f
}

// id returns the id field of the entry n (f its fields, where its place),
// reporting one that is not a valid id of kind, or that taken says an
// earlier entry has.
func (d *decoder) id(n *yaml.Node, f map[string]*yaml.Node, where, kind string, taken func(string) bool) string {
	id := d.str(f["id"], where+": id")
	switch {
	case !ValidID(id):
		d.errf(n, "%s: id %q is not a valid %s id (1 to 64 letters, digits, '_', '.' or '-')", where, id, kind)
	case taken(id):
		d.errf(f["id"], "%s: id %q is listed twice", where, id)
	}
	return id
}

func (d *decoder) point(n *yaml.Node, i int, seen map[string]Point) (Point, bool) {
	where := fmt.Sprintf("points[%d]", i)
	f := d.fields(n, where, "id", "name", "type", "address", "grid")
	if f == nil {
		return Point{}, false
	}
	before := len(d.errs)
	p := Point{ID: d.id(n, f, where, "point", func(id string) bool { _, ok := seen[id]; return ok })}
	where = fmt.Sprintf("%s (%s)", where, p.ID)
	p.Name = d.nameOf(f["name"], where+": name")
	if f["type"] == nil {
		d.errf(n, "%s: type is required: comprehensive, specialised or mobile", where)
	} else {
		var err error
		if p.Type, err = ParsePointType(d.str(f["type"], where+": type")); err != nil {
			d.errf(f["type"], "%s: %v", where, err)
		}
	}
	p.Address = d.str(f["address"], where+": address")
	if f["grid"] != nil {
		p.Grid = d.grid(f["grid"], where+": grid")
	}
	return p, len(d.errs) == before
}

func (d *decoder) station(n *yaml.Node, i int, points map[string]Point, ids map[string]bool) (Station, bool) {
	where := fmt.Sprintf("stations[%d]", i)
	f := d.fields(n, where, "id", "point", "name", "media", "lat", "lon", "time_zone",
		"noise_zone", "water_target", "water_body", "metrics", "mqtt_password_hash")
	if f == nil {
		return Station{}, false
	}
	before := len(d.errs)
	s := Station{ID: d.id(n, f, where, "station", func(id string) bool { return ids[id] })}
	where = fmt.Sprintf("%s (%s)", where, s.ID)
	s.Point = d.str(f["point"], where+": point")
	if _, ok := points[s.Point]; !ok {
		at := f["point"]
		if at == nil {
			at = n
		}
		d.errf(at, "%s: point %q is not one of the file's points", where, s.Point)
	}
	s.Name = d.nameOf(f["name"], where+": name")
	for _, mn := range d.list(f["media"], where+": media") {
		m, err := reading.ParseMedium(d.str(mn, where+": media"))
		if err != nil {
			d.errf(mn, "%s: %v", where, err)
			continue
		}
		if slices.Contains(s.Media, m) {
			d.errf(mn, "%s: medium %s is listed twice", where, m)
		}
		s.Media = append(s.Media, m)
	}
	if f["media"] == nil || len(f["media"].Content) == 0 {
		d.errf(n, "%s: media must list air, water or noise", where)
	}
	s.Coordinates = d.coordinates(n, f, where)
	if zn := f["time_zone"]; zn != nil {
		name := d.str(zn, where+": time_zone")
		loc, err := time.LoadLocation(name)
		if name == "" || name == "Local" || err != nil {
			d.errf(zn, "%s: time_zone %q is not an IANA time zone such as Asia/Shanghai", where, name)
		}
		s.TimeZone = loc
	}
	has := func(m reading.Medium) bool { return slices.Contains(s.Media, m) }
	if zn := f["noise_zone"]; zn != nil {
		z, err := quality.ParseNoiseZone(d.str(zn, where+": noise_zone"))
		switch {
		case err != nil:
			d.errf(zn, "%s: noise_zone %q is not a GB 3096-2008 class (0, 1, 2, 3, 4a, 4b)", where, zn.Value)
		case !has(reading.Noise):
			d.errf(zn, "%s: noise_zone is for a station that measures noise", where)
		}
		s.NoiseZone = z
	}
	if tn := f["water_target"]; tn != nil {
		c, err := quality.ParseWaterClass(d.str(tn, where+": water_target"))
		switch {
		case err != nil || c == quality.WorseThanV:
			d.errf(tn, "%s: water_target %q is not a GB 3838-2002 class (I-V)", where, tn.Value)
		case !has(reading.Water):
			d.errf(tn, "%s: water_target is for a station that measures water", where)
		}
		s.WaterTarget = c
	}
	if bn := f["water_body"]; bn != nil {
		switch b := d.str(bn, where+": water_body"); b {
		case "river":
			s.WaterBody = quality.River
		case "lake", "reservoir":
			s.WaterBody = quality.Lake
		default:
			d.errf(bn, "%s: water_body %q is not river, lake or reservoir", where, b)
		}
		if !has(reading.Water) {
			d.errf(bn, "%s: water_body is for a station that measures water", where)
		}
	} else if has(reading.Water) {
		d.errf(n, "%s: water_body is required for a water station: river, lake or reservoir (GB 3838-2002 limits differ)", where)
	}
	for _, mn := range d.list(f["metrics"], where+": metrics") {
		name := d.str(mn, where+": metrics")
		mt, ok := reading.LookupMetric(name)
		switch {
		case !ok:
			d.errf(mn, "%s: metrics: %q is not a metric of docs/MQTT.md", where, name)
		case !slices.ContainsFunc(s.Media, mt.Reports):
			d.errf(mn, "%s: metrics: %s is a metric of %s, which the station does not measure", where, name, mt.Medium)
		case slices.Contains(s.Metrics, name):
			d.errf(mn, "%s: metrics: %s is listed twice", where, name)
		}
		s.Metrics = append(s.Metrics, name)
	}
	if hn := f["mqtt_password_hash"]; hn != nil {
		s.MQTTPasswordHash = Hash(d.str(hn, where+": mqtt_password_hash"))
		if err := s.MQTTPasswordHash.check(); err != nil {
			d.errf(hn, "%s: mqtt_password_hash: %v", where, err)
		}
	}
	return s, len(d.errs) == before
}

// coordinates decodes lat and lon, which come together or not at all.
func (d *decoder) coordinates(n *yaml.Node, f map[string]*yaml.Node, where string) *Coordinates {
	ln, on := f["lat"], f["lon"]
	switch {
	case ln == nil && on == nil:
		return nil
	case ln == nil || on == nil:
		d.errf(n, "%s: give lat and lon together, or neither", where)
		return nil
	}
	lat, ok1 := d.float(ln, where+": lat")
	lon, ok2 := d.float(on, where+": lon")
	if !ok1 || !ok2 {
		return nil
	}
	if !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) || math.IsInf(lat, 0) || math.IsInf(lon, 0) { // NaN fails both
		d.errf(ln, "%s: lat %v, lon %v: want |lat| ≤ 90 and |lon| ≤ 180", where, lat, lon)
		return nil
	}
	return &Coordinates{Lat: lat, Lon: lon}
}

func (d *decoder) team(n *yaml.Node, i int, points []Point, seen map[string]bool) (Team, bool) {
	where := fmt.Sprintf("teams[%d]", i)
	f := d.fields(n, where, "id", "name", "cells", "contacts")
	if f == nil {
		return Team{}, false
	}
	before := len(d.errs)
	t := Team{ID: d.id(n, f, where, "team", func(id string) bool { return seen[id] })}
	where = fmt.Sprintf("%s (%s)", where, t.ID)
	t.Name = d.nameOf(f["name"], where+": name")
	if t.Name.IsZero() {
		d.errf(n, "%s: name is required", where)
	}
	for _, cn := range d.list(f["cells"], where+": cells") {
		c := d.grid(cn, where+": cells")
		if c.County == "" {
			continue
		}
		if !slices.ContainsFunc(points, func(p Point) bool { return c.Contains(p.Grid) }) {
			d.errf(cn, "%s: cells: no point lies in %s: check the spelling against the points' grid", where, c)
		}
		t.Cells = append(t.Cells, c)
	}
	if len(t.Cells) == 0 {
		d.errf(n, "%s: cells must list the grid cells the team covers", where)
	}
	for j, cn := range d.list(f["contacts"], where+": contacts") {
		cw := fmt.Sprintf("%s: contacts[%d]", where, j)
		cf := d.fields(cn, cw, "name", "phone", "email")
		if cf == nil {
			continue
		}
		c := Contact{Name: Personal(d.str(cf["name"], cw+".name")), Phone: Personal(d.str(cf["phone"], cw+".phone")), Email: Personal(d.str(cf["email"], cw+".email"))}
		// The messages never quote a contact's values: they are personal data.
		switch {
		case c.Name == "":
			d.errf(cn, "%s: name is required", cw)
		case c.Phone == "" && c.Email == "":
			d.errf(cn, "%s: give a phone or an email", cw)
		case c.Email != "" && !strings.Contains(c.Email.Reveal(), "@"):
			d.errf(cf["email"], "%s: email is not an e-mail address", cw)
		}
		t.Contacts = append(t.Contacts, c)
	}
	return t, len(d.errs) == before
}

func (d *decoder) reader(n *yaml.Node, i int, ids map[string]bool) (Reader, bool) {
	where := fmt.Sprintf("readers[%d]", i)
	f := d.fields(n, where, "username", "password_hash", "read")
	if f == nil {
		return Reader{}, false
	}
	before := len(d.errs)
	rd := Reader{Username: d.str(f["username"], where+": username")}
	switch {
	case !ValidID(rd.Username):
		d.errf(n, "%s: username %q is not valid (1 to 64 letters, digits, '_', '.' or '-')", where, rd.Username)
	case ids[rd.Username]:
		d.errf(f["username"], "%s: username %q is listed twice, or is a station id", where, rd.Username)
	}
	where = fmt.Sprintf("%s (%s)", where, rd.Username)
	rd.PasswordHash = Hash(d.str(f["password_hash"], where+": password_hash"))
	if rd.PasswordHash == "" {
		d.errf(n, "%s: password_hash must be set (envmon passwd prints one)", where)
	} else if err := rd.PasswordHash.check(); err != nil {
		d.errf(f["password_hash"], "%s: password_hash: %v", where, err)
	}
	rd.Read = d.strs(f["read"], where+": read")
	if len(rd.Read) == 0 {
		d.errf(n, "%s: read must list the topic filters the user may subscribe to", where)
	}
	for j, flt := range rd.Read {
		if !validFilter(flt) {
			d.errf(f["read"].Content[j], "%s: read: %q is not an MQTT topic filter", where, flt)
		}
	}
	return rd, len(d.errs) == before
}

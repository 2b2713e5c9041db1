package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/internal/testenv"
)

// The complainant of TestCasesTabEnvmon: none of this may reach the page
// or the statistics. ("Wei" alone is too short to look for: the demo's
// Cuiwei Village holds it.)
const (
	tFirst = "Wei"
	tLast  = "Shufen"
	tPhone = "13655557777"
	tEmail = "wei.shufen@example.invalid"
)

var personal = []string{tFirst + " " + tLast, tLast, tPhone, "1365555", "55557777", tEmail, "wei.shufen"}

// disclosure is /api/v1/disclosure/cases as the page reads it, decoded
// here on its own rather than through package cases, so that the test
// holds the JSON names the page depends on.
type disclosure struct {
	Generated string   `json:"generated_at"`
	TimeZone  string   `json:"time_zone"`
	Deadlines []string `json:"deadlines"`
	Flag      float64  `json:"poor_rate_flag"`
	Groups    []struct {
		Month        string         `json:"month"`
		Grid         string         `json:"grid"`
		Category     string         `json:"category"`
		Received     int            `json:"received"`
		OnTime       map[string]int `json:"on_time"`
		Overdue      map[string]int `json:"overdue"`
		OverdueCases int            `json:"overdue_cases"`
		Resolved     int            `json:"resolved"`
		Median       *float64       `json:"median_hours_to_resolve"`
		Ratings      map[string]int `json:"ratings"`
	} `json:"groups"`
	Points []struct {
		Point    string  `json:"point"`
		Year     int     `json:"year"`
		Rated    int     `json:"rated"`
		Poor     int     `json:"poor"`
		PoorRate float64 `json:"poor_rate"`
		Flagged  bool    `json:"flagged"`
	} `json:"points"`
}

// same says whether two answers hold the same statistics (they differ in
// generated_at).
func (d disclosure) same(o disclosure) bool {
	a, _ := json.Marshal([]any{d.Groups, d.Points, d.Deadlines, d.Flag})
	b, _ := json.Marshal([]any{o.Groups, o.Points, o.Deadlines, o.Flag})
	return bytes.Equal(a, b)
}

func getDisclosure(t *testing.T, base string) (disclosure, string) {
	t.Helper()
	res, err := http.Get(base + "/api/v1/disclosure/cases")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/disclosure/cases: %s %v %s", res.Status, err, body)
	}
	var d disclosure
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("/api/v1/disclosure/cases: %v", err)
	}
	return d, string(body)
}

// casesShown is what the cases tab shows: every number is the visible
// text of its element.
type casesShown struct {
	State  string `json:"state"`
	Groups []struct {
		Month, Grid, Category  string
		Heading, GridText      string
		Received, OverdueCases string
		Resolved, Median       string
		MedianNone             bool
		Good, Average, Poor    string
		Deadlines              map[string]struct{ OnTime, Overdue, Label string }
	} `json:"groups"`
	Points []struct {
		Point, Year, Rated, Poor string
		Rate, Flag, Flagged      string
		Text                     string
	} `json:"points"`
}

const casesJS = `(() => {
  const box = document.querySelector("section.cases");
  const k = (e, key) => e.querySelector('[data-k="' + key + '"]')?.textContent ?? "<missing>";
  return { state: box?.dataset.state ?? "",
    groups: [...document.querySelectorAll("#cases-groups .case-group")].map((s) => {
      const f = s.querySelector(".case-facts");
      const dl = {};
      for (const tr of s.querySelectorAll("tr[data-deadline]")) dl[tr.dataset.deadline] = { OnTime: k(tr, "on_time"), Overdue: k(tr, "overdue"), Label: tr.querySelector("th").textContent };
      return { Month: s.dataset.month, Grid: s.dataset.grid, Category: s.dataset.category, Heading: s.querySelector("h4").textContent,
        GridText: s.querySelector(".grid-name").textContent, Received: k(f, "received"), OverdueCases: k(f, "overdue_cases"), Resolved: k(f, "resolved"),
        Median: k(f, "median"), MedianNone: f.querySelector('[data-k="median"]')?.hasAttribute("data-none") ?? false,
        Good: k(f, "rating-good"), Average: k(f, "rating-average"), Poor: k(f, "rating-poor"), Deadlines: dl };
    }),
    points: [...document.querySelectorAll("#cases-points tbody tr")].map((tr) => ({ Point: tr.dataset.point, Year: k(tr, "year"),
      Rated: k(tr, "rated"), Poor: k(tr, "poor"), Rate: k(tr, "rate"), Flag: k(tr, "flag"), Flagged: tr.dataset.flagged, Text: tr.textContent })) };
})()`

// The page's words that the test checks, in each language.
var casesWords = map[string]struct {
	tab, title, none string
	cats             map[string]string
	flagged, within  string
	deadlines        map[string]string
}{
	"en": {"Cases", "Complaints and cases: public statistics", "none resolved",
		map[string]string{"air": "Air", "water": "Water", "noise": "Noise", "other": "Other"},
		"⚠ above 5%: the point's head is called in", "✓ within 5%",
		map[string]string{"enter": "Entered (1 hour)", "contact": "Complainant contacted (24 hours)", "forward": "Forwarded to enforcement (1 working day)",
			"feedback": "Feedback (3 working days; complex cases 7)", "recheck": "Poor rating rechecked (48 hours)"}},
	"zh": {"案件公开", "投诉与案件办理情况公开", "暂无办结",
		map[string]string{"air": "大气", "water": "水", "noise": "噪声", "other": "其他"},
		"⚠ 超过 5%：约谈服务点负责人", "✓ 未超过 5%",
		map[string]string{"enter": "登记（1 小时内）", "contact": "联系投诉人（24 小时内）", "forward": "转交执法（1 个工作日内）",
			"feedback": "反馈（3 个工作日内，复杂案件 7 个）", "recheck": "差评复核（48 小时内）"}},
}

func monthIn(lang, m string) string {
	if lang != "zh" {
		return m
	}
	y, mo, _ := strings.Cut(m, "-")
	n, _ := strconv.Atoi(mo)
	return fmt.Sprintf("%s年%d月", y, n)
}

// decimal is a number as the page writes it: at most one decimal, no
// grouping (the test strips the page's grouping commas).
func decimal(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// compareCases lists how the tab differs from the statistics d.
func compareCases(lang string, d disclosure, got casesShown) []string {
	w := casesWords[lang]
	var diffs []string
	bad := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(lang+": "+format, args...)) }
	if len(got.Groups) != len(d.Groups) {
		bad("%d groups shown, the API has %d", len(got.Groups), len(d.Groups))
	}
	for i, g := range d.Groups {
		if i >= len(got.Groups) {
			break
		}
		s := got.Groups[i]
		where := g.Month + " " + g.Category + " " + g.Grid
		if s.Month != g.Month || s.Grid != g.Grid || s.Category != g.Category {
			bad("group %d is %s %s %s, the API's %s", i, s.Month, s.Category, s.Grid, where)
			continue
		}
		if want := monthIn(lang, g.Month) + " · " + w.cats[g.Category]; s.Heading != want {
			bad("%s: heading %q, want %q", where, s.Heading, want)
		}
		if s.GridText != g.Grid {
			bad("%s: grid shown as %q", where, s.GridText)
		}
		for _, n := range []struct {
			what, got string
			want      int
		}{{"received", s.Received, g.Received}, {"overdue cases", s.OverdueCases, g.OverdueCases}, {"resolved", s.Resolved, g.Resolved},
			{"good", s.Good, g.Ratings["good"]}, {"average", s.Average, g.Ratings["average"]}, {"poor", s.Poor, g.Ratings["poor"]}} {
			if n.got != strconv.Itoa(n.want) {
				bad("%s: %s shows %q, the API %d", where, n.what, n.got, n.want)
			}
		}
		switch {
		case g.Median == nil && (!s.MedianNone || s.Median != w.none):
			bad("%s: no case resolved, yet the median shows %q", where, s.Median)
		case g.Median != nil && strings.ReplaceAll(s.Median, ",", "") != decimal(*g.Median):
			bad("%s: median %q hours, the API %v", where, s.Median, *g.Median)
		}
		if len(s.Deadlines) != len(d.Deadlines) {
			bad("%s: %d deadlines shown, the API has %d", where, len(s.Deadlines), len(d.Deadlines))
		}
		for _, dl := range d.Deadlines {
			r, ok := s.Deadlines[dl]
			switch {
			case !ok:
				bad("%s: deadline %s not shown", where, dl)
			case r.OnTime != strconv.Itoa(g.OnTime[dl]) || r.Overdue != strconv.Itoa(g.Overdue[dl]):
				bad("%s: %s on time %q overdue %q, the API %d and %d", where, dl, r.OnTime, r.Overdue, g.OnTime[dl], g.Overdue[dl])
			case r.Label != w.deadlines[dl]:
				bad("%s: deadline %s labelled %q, want %q", where, dl, r.Label, w.deadlines[dl])
			}
		}
	}
	if len(got.Points) != len(d.Points) {
		bad("%d service points shown, the API has %d", len(got.Points), len(d.Points))
	}
	for i, p := range d.Points {
		if i >= len(got.Points) {
			break
		}
		s := got.Points[i]
		where := fmt.Sprintf("point %s %d", p.Point, p.Year)
		if s.Point != p.Point || s.Year != strconv.Itoa(p.Year) || !strings.Contains(s.Text, p.Point) {
			bad("row %d is %s %s (%q), the API's %s", i, s.Point, s.Year, s.Text, where)
			continue
		}
		if s.Rated != strconv.Itoa(p.Rated) || s.Poor != strconv.Itoa(p.Poor) {
			bad("%s: rated %q poor %q, the API %d and %d", where, s.Rated, s.Poor, p.Rated, p.Poor)
		}
		if want := decimal(p.PoorRate*100) + "%"; strings.ReplaceAll(s.Rate, ",", "") != want {
			bad("%s: rate %q, want %q", where, s.Rate, want)
		}
		// The flag is said in words, not by colour alone.
		want := w.within
		if p.Flagged {
			want = w.flagged
		}
		if s.Flag != want || s.Flagged != strconv.FormatBool(p.Flagged) {
			bad("%s: flag %q (%s), want %q", where, s.Flag, s.Flagged, want)
		}
	}
	return diffs
}

// checkCasesTab compares the open cases tab with /api/v1/disclosure/cases.
// The demo's alerts may open cases meanwhile, so it compares only with an
// answer that did not change while the page was read, reloading the tab
// for another try when it did, or when the page was drawn from an older
// one.
func checkCasesTab(t *testing.T, ctx context.Context, base, lang string) disclosure {
	t.Helper()
	var diffs []string
	for try := range 5 {
		if try > 0 {
			do(t, ctx, "reload the cases tab", chromedp.Reload())
			time.Sleep(time.Duration(try) * time.Second)
		}
		before, _ := getDisclosure(t, base)
		waitFor(t, ctx, "the cases tab", `document.querySelector("section.cases")?.dataset.state === "loaded"`)
		got := eval[casesShown](t, ctx, casesJS)
		after, _ := getDisclosure(t, base)
		if !before.same(after) {
			diffs = []string{"the statistics changed while the page was read"}
			continue
		}
		if diffs = compareCases(lang, after, got); len(diffs) == 0 {
			w := casesWords[lang]
			if tab := eval[string](t, ctx, `document.getElementById("tab-cases").textContent`); tab != w.tab {
				t.Errorf("%s: the cases tab is labelled %q, want %q", lang, tab, w.tab)
			}
			if h := eval[string](t, ctx, `document.getElementById("cases-title").textContent`); h != w.title {
				t.Errorf("%s: the cases heading is %q, want %q", lang, h, w.title)
			}
			return after
		}
	}
	t.Fatalf("the cases tab does not show /api/v1/disclosure/cases:\n  %s", strings.Join(diffs, "\n  "))
	return disclosure{}
}

// noPersonal fails if any of the complainant's data is in s.
func noPersonal(t *testing.T, where, s string) {
	t.Helper()
	for _, p := range personal {
		if strings.Contains(s, p) {
			t.Errorf("%s holds the complainant's %q", where, p)
		}
	}
}

// adminToken creates an admin token with "envmon token create" on the
// demo's database, as an operator would.
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	out, err := exec.Command(testenv.EnvmonBinary(t), "token", "create", "--role", "admin", "--name", "webtest", "--data-dir", dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("envmon token create: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		t.Fatalf("envmon token create printed nothing")
	}
	return f[len(f)-1]
}

// callAPI calls the enforcement API with the token.
func callAPI(t *testing.T, method, target, tok, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, target, res.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
	}
}

type caseList struct {
	Cases []struct {
		ID     string `json:"id"`
		Source string `json:"source"`
	} `json:"cases"`
}

// TestCasesTabEnvmon opens the cases tab of a real "envmon demo", whose
// alerts open cases of their own (water stations below their target).
// Citizens complain through Open311 with a name, phone and e-mail; an
// officer takes a case through to a poor rating, so that its service
// point is flagged. The tab, reached by keyboard, shows in English and
// Chinese exactly the numbers of /api/v1/disclosure/cases, the flag in
// words, fits a 390 px phone, and holds none of the complainant's data,
// nor does the API.
func TestCasesTabEnvmon(t *testing.T) {
	chromium(t)
	dataDir := t.TempDir()
	e := testenv.StartEnvmonCommand(t, "demo", "--data-dir", dataDir)
	base := e.HTTP

	// Three complaints, so that their group reaches the disclosure's
	// threshold (cases.MinGroupComplaints) and is shown.
	for i := range cases.MinGroupComplaints {
		form := url.Values{"service_code": {"air"}, "attribute[point]": {"p-civic"}, "description": {fmt.Sprintf("Black smoke from a chimney every evening (%d).", i+1)},
			"first_name": {tFirst}, "last_name": {tLast}, "phone": {tPhone}, "email": {tEmail}}
		res, err := http.PostForm(base+"/open311/v2/requests.json", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("Open311 POST: %s %s", res.Status, body)
		}
		noPersonal(t, "the Open311 receipt", string(body))
	}

	tok := adminToken(t, dataDir)
	var mine caseList
	callAPI(t, "GET", base+"/api/v1/cases?source=open311", tok, "", &mine)
	if len(mine.Cases) != cases.MinGroupComplaints {
		t.Fatalf("%d Open311 cases, want the %d just filed", len(mine.Cases), cases.MinGroupComplaints)
	}
	id := mine.Cases[0].ID
	for _, a := range []string{"acknowledge", "contact", "forward", "start", "resolve"} {
		callAPI(t, "POST", base+"/api/v1/cases/"+id+"/"+a, tok, `{"comment":"webtest"}`, nil)
	}
	callAPI(t, "POST", base+"/api/v1/cases/"+id+"/close", tok, `{"rating":"poor"}`, nil)

	// The demo's alerts open their cases within seconds.
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var alerts caseList
		callAPI(t, "GET", base+"/api/v1/cases?source=alert", tok, "", &alerts)
		if len(alerts.Cases) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("after 90 s the demo's alerts have opened no case")
		}
	}
	d, raw := getDisclosure(t, base)
	noPersonal(t, "/api/v1/disclosure/cases", raw)
	flagged := false
	for _, p := range d.Points {
		flagged = flagged || (p.Point == "p-civic" && p.Flagged && p.Poor >= 1)
	}
	if !flagged || len(d.Groups) < 2 {
		t.Fatalf("the statistics lack the poor rating at p-civic or the alert cases: %s", raw)
	}

	ctx := newBrowser(t)
	dir := artifacts(t)
	// The tab by keyboard, after the noise tab.
	do(t, ctx, "load the noise tab", chromedp.Navigate(base+"/#/noise"))
	waitFor(t, ctx, "the noise tab", `document.getElementById("tab-noise")?.getAttribute("aria-selected") === "true"`)
	do(t, ctx, "arrow to the cases tab", chromedp.Focus(chromedp.CSS("#tab-noise")), chromedp.SendKeys(chromedp.CSS("#tab-noise"), kb.ArrowRight))
	waitFor(t, ctx, "the cases tab", `location.hash === "#/cases" && document.activeElement.id === "tab-cases" && document.getElementById("tab-cases").getAttribute("aria-selected") === "true"`)
	checkCasesTab(t, ctx, base, "en")
	// Every table has column headers, and its rows a header of their own.
	if bare := eval[int](t, ctx, `[...document.querySelectorAll("section.cases table")].filter((t) => !t.querySelector("caption") || !t.querySelector("thead th[scope=col]") || [...t.tBodies[0].rows].some((r) => !r.querySelector("th[scope=row]"))).length`); bare != 0 {
		t.Errorf("%d tables of the cases tab lack a caption, column or row headers", bare)
	}
	html := eval[string](t, ctx, `document.documentElement.outerHTML`)
	noPersonal(t, "the page in English", html)
	screenshot(t, ctx, dir, "cases-en-1280")

	do(t, ctx, "switch to Chinese", chromedp.Click(chromedp.CSS("#lang-toggle")))
	waitFor(t, ctx, "Chinese", `document.documentElement.lang === "zh-CN"`)
	checkCasesTab(t, ctx, base, "zh")
	noPersonal(t, "the page in Chinese", eval[string](t, ctx, `document.documentElement.outerHTML`))
	screenshot(t, ctx, dir, "cases-zh-1280")

	do(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	waitFor(t, ctx, "the phone layout", `document.documentElement.clientWidth === 390`)
	for _, lang := range []string{"zh", "en"} {
		if lang == "en" {
			do(t, ctx, "switch to English", chromedp.Click(chromedp.CSS("#lang-toggle")))
			waitFor(t, ctx, "English", `document.documentElement.lang === "en"`)
		}
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s: at 390 px the cases tab is %d px wide", lang, w)
		}
		if over := eval[bool](t, ctx, `[...document.querySelectorAll("section.cases .table-wrap")].some((w) => w.scrollWidth > w.clientWidth)`); over {
			t.Errorf("%s: at 390 px a table of the cases tab does not fit its box: %s", lang, eval[string](t, ctx, `[...document.querySelectorAll("section.cases .table-wrap")].filter((w) => w.scrollWidth > w.clientWidth).map((w) => w.firstChild.className + " " + w.scrollWidth + ">" + w.clientWidth).join(", ")`))
		}
		screenshot(t, ctx, dir, "cases-"+lang+"-390")
	}
	if errs := pageErrors(ctx); errs != "" {
		t.Errorf("the page had errors:%s", errs)
	}
}

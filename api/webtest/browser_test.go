package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromium finds Debian's chromium, or fails: the browser tests are part
// of `make test`, which installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped under -short")
	}
	if p := os.Getenv("ENVMON_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium is not installed (/usr/bin/chromium): run make test, whose tools target installs Debian's chromium")
	return ""
}

// artifacts is where the test's screenshots go: $ENVMON_ARTIFACTS/webtest
// when set (kept after the test), else a directory under the test's
// temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifacts")
	if a := os.Getenv("ENVMON_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "webtest")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// collectErrors runs in every document before the page's scripts: it
// keeps uncaught errors, unhandled rejections and Content-Security-Policy
// violations, which the test then requires to be none.
const collectErrors = `
window.__pageErrors = [];
window.addEventListener("error", (e) => window.__pageErrors.push("error: " + e.message));
window.addEventListener("unhandledrejection", (e) => window.__pageErrors.push("rejection: " + e.reason));
document.addEventListener("securitypolicyviolation", (e) => window.__pageErrors.push("csp: " + e.violatedDirective + " " + e.blockedURI));
`

// newBrowser starts headless chromium with its own profile. Its network
// is loopback only: every other host name fails to resolve, so the map's
// OpenStreetMap tiles fail, as they do offline, without a DNS query.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US,en"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: collectErrors})
		return err
	})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs actions with a deadline; the machine is shared and slow, so it
// is generous.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v%s", what, err, pageErrors(ctx))
	}
}

// eval evaluates expr in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until expr is truthy in the page.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(80*time.Second))); err != nil {
		t.Fatalf("waiting for %s (%s): %v%s", what, expr, err, pageErrors(ctx))
	}
}

func pageErrors(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errs, err := chromedp.Run(c, chromedp.Evaluate[[]string](`window.__pageErrors || []`))
	if err != nil || len(errs) == 0 {
		return ""
	}
	return "\npage errors:\n  " + strings.Join(errs, "\n  ")
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The API's answer, as much of it as the test compares with the page.
type aqiList struct {
	Stations []aqiEntry `json:"stations"`
}

type text struct {
	Zh *string `json:"zh"`
	En *string `json:"en"`
}

func (x *text) in(lang string) string {
	if x == nil {
		return ""
	}
	a, b := x.En, x.Zh
	if lang == "zh" {
		a, b = b, a
	}
	if a != nil && *a != "" {
		return *a
	}
	if b != nil {
		return *b
	}
	return ""
}

type aqiEntry struct {
	Station struct {
		ID          string    `json:"id"`
		Name        text      `json:"name"`
		PointName   text      `json:"point_name"`
		Coordinates *struct{} `json:"coordinates"`
	} `json:"station"`
	AQI      *int    `json:"aqi"`
	Level    *int    `json:"level"`
	Category *text   `json:"category"`
	Color    *string `json:"color"`
	Reason   *string `json:"reason"`
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// rgb is a "#RRGGBB" colour as getComputedStyle gives it.
func rgb(hex string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		return "bad colour " + hex
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", v>>16, (v>>8)&0xff, v&0xff)
}

// shown is what the page shows of one station, in the list or on the map.
type shown struct {
	ID    string `json:"id"`
	AQI   string `json:"aqi"`
	Level string `json:"level"`
	Name  string `json:"name"`
	Place string `json:"place"`
	BG    string `json:"bg"`
	Text  string `json:"text"`
}

const listJS = `[...document.querySelectorAll("#stations tbody tr[data-station]")].map((tr) => {
  const b = tr.querySelector(".badge");
  return { id: tr.dataset.station, aqi: b.querySelector(".badge-aqi")?.textContent ?? "",
    level: b.querySelector(".badge-level")?.textContent ?? "", name: tr.querySelector(".station-link").textContent,
    place: tr.querySelector(".place-name").textContent, bg: getComputedStyle(b).backgroundColor, text: tr.textContent };
})`

const markersJS = `[...document.querySelectorAll("#map .aqi-marker[data-station]")].map((m) => ({
  id: m.dataset.station, aqi: m.textContent, bg: getComputedStyle(m).backgroundColor,
  name: m.closest(".leaflet-marker-icon")?.getAttribute("title") ?? "" }))`

// checkStations compares the list and the markers with /api/v1/aqi: every
// station is listed with its name and place in lang, its AQI number, its
// level's name and its level's colour; every station with coordinates
// has a marker in the same colour with the same number.
func checkStations(t *testing.T, ctx context.Context, base, lang string, minLevels int) aqiList {
	t.Helper()
	var want aqiList
	getJSON(t, base+"/api/v1/aqi", &want)
	rows := eval[[]shown](t, ctx, listJS)
	markers := eval[[]shown](t, ctx, markersJS)
	byID := map[string]shown{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	mByID := map[string]shown{}
	for _, m := range markers {
		mByID[m.ID] = m
	}
	if len(rows) != len(want.Stations) {
		t.Errorf("%s: the list has %d stations, the API %d", lang, len(rows), len(want.Stations))
	}
	withCoords, levels := 0, map[int]bool{}
	for _, e := range want.Stations {
		id := e.Station.ID
		r, ok := byID[id]
		if !ok {
			t.Errorf("%s: station %s is not listed", lang, id)
			continue
		}
		if name := e.Station.Name.in(lang); r.Name != name {
			t.Errorf("%s: %s is named %q, want %q", lang, id, r.Name, name)
		}
		if place := e.Station.PointName.in(lang); r.Place != place {
			t.Errorf("%s: %s's place is %q, want %q", lang, id, r.Place, place)
		}
		if e.AQI != nil {
			levels[*e.Level] = true
			if r.AQI != strconv.Itoa(*e.AQI) || r.Level != e.Category.in(lang) || r.BG != rgb(*e.Color) {
				t.Errorf("%s: %s shows AQI %q level %q colour %s; the API says %d %q %s (%s)", lang, id, r.AQI, r.Level, r.BG, *e.AQI, e.Category.in(lang), *e.Color, rgb(*e.Color))
			}
		} else if r.AQI != "" || r.Level == "" {
			t.Errorf("%s: %s has no AQI (%v) but shows %q %q", lang, id, e.Reason, r.AQI, r.Level)
		}
		m, ok := mByID[id]
		switch {
		case e.Station.Coordinates == nil && ok:
			t.Errorf("%s: %s has no coordinates but a marker", lang, id)
		case e.Station.Coordinates != nil && !ok:
			t.Errorf("%s: %s has no marker", lang, id)
		case ok:
			withCoords++
			if e.AQI != nil && (m.AQI != strconv.Itoa(*e.AQI) || m.BG != rgb(*e.Color)) {
				t.Errorf("%s: %s's marker shows %q in %s; the API says %d in %s", lang, id, m.AQI, m.BG, *e.AQI, rgb(*e.Color))
			}
			if !strings.Contains(m.Name, e.Station.Name.in(lang)) {
				t.Errorf("%s: %s's marker is titled %q, without its name %q", lang, id, m.Name, e.Station.Name.in(lang))
			}
		}
	}
	if len(markers) != withCoords {
		t.Errorf("%s: %d markers, %d stations with coordinates", lang, len(markers), withCoords)
	}
	if len(levels) < minLevels {
		t.Errorf("the stations should show at least %d levels; the API gives %v", minLevels, levels)
	}
	return want
}

// TestPage loads the page in chromium against envmon's handler with
// synthetic stations: the list and the markers against /api/v1/aqi in
// both languages, the language remembered, sorting, a live update over
// the stream, near me, a station's page with its charts, the water and
// noise tabs by keyboard, a 390 px phone, and no script error or CSP
// violation throughout.
func TestPage(t *testing.T) {
	s := newSite(t)
	ctx := newBrowser(t)
	dir := artifacts(t)
	checkHeaders(t, s.URL)
	runPage(t, ctx, walk{base: s.URL, dir: dir, live: liveStation, feed: s.feedLive, station: "a-heavy",
		minLevels: 5, lat: 30.6650, lon: 104.0540})
}

// walk says what runPage does: on which site, which station is fed live
// (by feed) and whose page to open, how many levels the list must show,
// and where the browser says it is.
type walk struct {
	base, dir     string
	live, station string
	feed          func()
	minLevels     int
	lat, lon      float64
}

// runPage is the browser walk.
func runPage(t *testing.T, ctx context.Context, w walk) {
	base, dir, feed := w.base, w.dir, w.feed
	nRows := `document.querySelectorAll("#stations tbody tr[data-station]").length`
	var want aqiList
	getJSON(t, base+"/api/v1/aqi", &want)
	do(t, ctx, "load the page", chromedp.Navigate(base+"/"))
	waitFor(t, ctx, "the list", fmt.Sprintf("%s === %d && document.querySelectorAll('#map .aqi-marker').length > 0", nRows, len(want.Stations)))
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "en" {
		t.Errorf("an en-US browser gets lang %q", lang)
	}
	waitFor(t, ctx, "the stream", `document.getElementById("live").dataset.state === "on"`)
	checkStations(t, ctx, base, "en", w.minLevels)
	if txt := eval[string](t, ctx, `document.getElementById("advice").textContent`); !strings.Contains(txt, "Health effects") {
		t.Errorf("no health advice on the air tab: %q", txt)
	}
	// The worst station's advice is shown, in its level's words.
	var worst *aqiEntry
	for i, e := range want.Stations {
		if e.AQI != nil && (worst == nil || *e.AQI > *worst.AQI) {
			worst = &want.Stations[i]
		}
	}
	if txt := eval[string](t, ctx, `document.getElementById("advice").textContent`); worst != nil && !strings.Contains(txt, worst.Station.Name.in("en")) {
		t.Errorf("the advice is not for the worst station %s: %q", worst.Station.ID, txt)
	}
	screenshot(t, ctx, dir, "air-en-1280")

	// Sorting: the AQI column, by a button, with aria-sort.
	if s := eval[string](t, ctx, `document.querySelector("th.col-aqi").getAttribute("aria-sort")`); s != "descending" {
		t.Errorf("the list is first sorted by AQI descending; aria-sort %q", s)
	}
	do(t, ctx, "sort by AQI", chromedp.Click(chromedp.CSS(`button[data-sort="aqi"]`)))
	if s := eval[string](t, ctx, `document.querySelector("th.col-aqi").getAttribute("aria-sort")`); s != "ascending" {
		t.Errorf("after a click, aria-sort %q", s)
	}
	aqis := eval[[]string](t, ctx, `[...document.querySelectorAll("#stations tbody tr")].map((tr) => tr.dataset.aqi)`)
	last := -1
	for i, a := range aqis {
		if a == "" {
			if i+1 < len(aqis) && aqis[i+1] != "" {
				t.Errorf("a station without AQI sorts before one with: %v", aqis)
			}
			continue
		}
		n, _ := strconv.Atoi(a)
		if n < last {
			t.Errorf("not ascending: %v", aqis)
		}
		last = n
	}
	if f := eval[string](t, ctx, `document.activeElement.dataset.sort || ""`); f != "aqi" {
		t.Errorf("focus left the sort button: %q", f)
	}
	do(t, ctx, "sort by name", chromedp.Click(chromedp.CSS(`button[data-sort="name"]`)))
	names := eval[[]string](t, ctx, `[...document.querySelectorAll("#stations .station-link")].map((a) => a.textContent)`)
	for i := 1; i < len(names); i++ {
		if strings.ToLower(names[i-1]) > strings.ToLower(names[i]) {
			t.Errorf("names not ascending: %v", names)
			break
		}
	}

	// Switch to Chinese: the page's texts and the API's.
	do(t, ctx, "switch to Chinese", chromedp.Click(chromedp.CSS("#lang-toggle")))
	waitFor(t, ctx, "Chinese", `document.documentElement.lang === "zh-CN"`)
	if tab := eval[string](t, ctx, `document.getElementById("tab-air").textContent`); tab != "空气" {
		t.Errorf("the air tab in Chinese is %q", tab)
	}
	if h := eval[string](t, ctx, `document.getElementById("list-title").textContent`); h != "空气站点" {
		t.Errorf("the list's title in Chinese is %q", h)
	}
	checkStations(t, ctx, base, "zh", w.minLevels)
	screenshot(t, ctx, dir, "air-zh-1280")
	// The choice is remembered.
	do(t, ctx, "reload", chromedp.Reload())
	waitFor(t, ctx, "the list after reload", fmt.Sprintf("%s === %d", nRows, len(want.Stations)))
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("after a reload the language is %q; want zh-CN remembered", lang)
	}

	// A phone, 390 px wide: nothing wider than the screen.
	do(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	waitFor(t, ctx, "the phone layout", `document.documentElement.clientWidth === 390`)
	fits := func(lang string) {
		t.Helper()
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s: at 390 px the page is %d px wide", lang, w)
		}
		if over := eval[bool](t, ctx, `(() => { const w = document.querySelector("#stations").closest(".table-wrap"); return w.scrollWidth > w.clientWidth; })()`); over {
			t.Errorf("%s: at 390 px the list does not fit its box", lang)
		}
		// Every marker is in the map's box: the map followed its new size.
		inside := `[...document.querySelectorAll("#map .aqi-marker")].every((m) => { const b = document.getElementById("map").getBoundingClientRect(), r = m.getBoundingClientRect();
			return r.left >= b.left && r.right <= b.right && r.top >= b.top && r.bottom <= b.bottom; })`
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](inside, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Errorf("%s: at 390 px some markers stay outside the map: %v", lang, err)
		}
	}
	fits("zh")
	screenshot(t, ctx, dir, "air-zh-390")
	do(t, ctx, "switch to English", chromedp.Click(chromedp.CSS("#lang-toggle")))
	waitFor(t, ctx, "English", `document.documentElement.lang === "en"`)
	fits("en")
	screenshot(t, ctx, dir, "air-en-390")
	do(t, ctx, "back to a desktop", chromedp.EmulateViewport(1280, 900))

	// A live update: the live station reports; the stream carries its new
	// report to the list, the map and the screen reader.
	before := eval[shown](t, ctx, `(() => { const tr = document.querySelector('#stations tr[data-station="`+w.live+`"]'); return {id: tr.dataset.station, aqi: tr.dataset.aqi, text: tr.textContent}; })()`)
	if before.AQI != "" {
		t.Fatalf("the live station has an AQI before it reported: %+v", before)
	}
	feed()
	var got *aqiEntry
	for deadline := time.Now().Add(30 * time.Second); got == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var l aqiList
		getJSON(t, base+"/api/v1/aqi", &l)
		for i, e := range l.Stations {
			if e.Station.ID == w.live && e.AQI != nil {
				got = &l.Stations[i]
			}
		}
	}
	if got == nil {
		t.Fatal("the API never gave the live station an AQI")
	}
	waitFor(t, ctx, "the live update", fmt.Sprintf(`document.querySelector('#stations tr[data-station="%s"]').dataset.aqi === "%d"`, w.live, *got.AQI))
	waitFor(t, ctx, "the live marker", fmt.Sprintf(`document.querySelector('#map .aqi-marker[data-station="%s"]').textContent === "%d"`, w.live, *got.AQI))
	waitFor(t, ctx, "the announcement", fmt.Sprintf(`document.getElementById("announce").textContent.includes(%q)`, got.Station.Name.in("en")))
	checkStations(t, ctx, base, "en", w.minLevels)
	if n := eval[int](t, ctx, `performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/aqi")).length`); n != 1 {
		t.Errorf("the page fetched /api/v1/aqi %d times; the live update should come over the stream alone", n)
	}

	// Near me, with a position the browser is told to give.
	do(t, ctx, "grant geolocation", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		lat, lon, acc := w.lat, w.lon, 10.0
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "geolocation"}, Setting: "granted", Origin: base}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{Latitude: &lat, Longitude: &lon, Accuracy: &acc})
		return err
	}), chromedp.Click(chromedp.CSS("#near-me")))
	var near struct {
		Stations []aqiEntry `json:"stations"`
	}
	getJSON(t, base+fmt.Sprintf("/api/v1/near?lat=%.5f&lon=%.5f&n=3", w.lat, w.lon), &near)
	waitFor(t, ctx, "near me", `document.querySelectorAll("#near li[data-station]").length === `+strconv.Itoa(len(near.Stations)))
	if first := eval[string](t, ctx, `document.querySelector("#near li").dataset.station`); first != near.Stations[0].Station.ID {
		t.Errorf("nearest is %s, the API says %s", first, near.Stations[0].Station.ID)
	}
	if txt := eval[string](t, ctx, `document.getElementById("advice").textContent`); !strings.Contains(txt, near.Stations[0].Station.Name.in("en")) {
		t.Errorf("the advice is not for the nearest station: %q", txt)
	}

	// A station's page, by its link: the 24 h AQI bars, one chart per
	// pollutant, the advice.
	do(t, ctx, "open a station", chromedp.Click(chromedp.CSS(`#stations tr[data-station="`+w.station+`"] .station-link`)))
	waitFor(t, ctx, "the station page", `location.hash === "#/station/`+w.station+`" && document.querySelector("#chart-aqi svg")`)
	var hist struct {
		Station struct {
			Name text `json:"name"`
		} `json:"station"`
		Items []struct {
			AQI    *int    `json:"aqi"`
			Color  *string `json:"color"`
			Values []struct {
				Pollutant string `json:"pollutant"`
			} `json:"values"`
		} `json:"items"`
	}
	getJSON(t, base+"/api/v1/stations/"+w.station+"/aqi", &hist)
	withAQI := 0
	for _, it := range hist.Items {
		if it.AQI != nil {
			withAQI++
		}
	}
	if withAQI == 0 {
		t.Fatal("the fixture's station has no AQI history")
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#chart-aqi rect[data-v]").length`); n != withAQI {
		t.Errorf("the AQI chart has %d bars; the history has %d hours with an AQI", n, withAQI)
	}
	if fills := eval[[]string](t, ctx, `[...document.querySelectorAll("#chart-aqi rect[data-v]")].map((r) => r.getAttribute("fill"))`); len(fills) > 0 && fills[len(fills)-1] != *hist.Items[len(hist.Items)-1].Color {
		t.Errorf("the last bar is %s, its level colour %s", fills[len(fills)-1], *hist.Items[len(hist.Items)-1].Color)
	}
	pollutants := map[string]bool{}
	for _, it := range hist.Items {
		for _, v := range it.Values {
			pollutants[v.Pollutant] = true
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll(".chart-pollutant svg").length`); n != len(pollutants) || n == 0 {
		t.Errorf("%d pollutant charts; the history has %d pollutants", n, len(pollutants))
	}
	if txt := eval[string](t, ctx, `document.querySelector(".station-page").textContent`); !strings.Contains(txt, "Recommended measures") || !strings.Contains(txt, hist.Station.Name.in("en")) {
		t.Errorf("the station page lacks its name or advice: %q", txt)
	}
	screenshot(t, ctx, dir, "station-en-1280")

	// The tabs by keyboard: arrows move between them.
	do(t, ctx, "the tabs", chromedp.Focus(chromedp.CSS("#tab-air")), chromedp.SendKeys(chromedp.CSS("#tab-air"), kb.ArrowRight))
	waitFor(t, ctx, "the water tab", `location.hash === "#/water" && document.activeElement.id === "tab-water" && document.querySelector("#water-table")`)
	var water struct {
		Stations []struct {
			Station struct {
				ID string `json:"id"`
			} `json:"station"`
			Class *struct {
				En string `json:"en"`
			} `json:"class"`
		} `json:"stations"`
	}
	getJSON(t, base+"/api/v1/water", &water)
	for _, w := range water.Stations {
		txt := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('#water-table tr[data-station=%q]')?.textContent ?? ""`, w.Station.ID))
		if w.Class != nil && !strings.Contains(txt, w.Class.En) {
			t.Errorf("water station %s: %q lacks its class %q", w.Station.ID, txt, w.Class.En)
		}
	}
	screenshot(t, ctx, dir, "water-en-1280")
	do(t, ctx, "the noise tab", chromedp.SendKeys(chromedp.CSS("#tab-water"), kb.ArrowRight))
	waitFor(t, ctx, "the noise tab", `location.hash === "#/noise" && document.querySelector(".noise-station")`)
	var noise struct {
		Stations []json.RawMessage `json:"stations"`
	}
	getJSON(t, base+"/api/v1/noise", &noise)
	if n := eval[int](t, ctx, `document.querySelectorAll(".noise-station").length`); n != len(noise.Stations) {
		t.Errorf("%d noise stations shown, the API has %d", n, len(noise.Stations))
	}
	screenshot(t, ctx, dir, "noise-en-1280")

	if errs := pageErrors(ctx); errs != "" {
		t.Errorf("the page had errors:%s", errs)
	}
}

// checkHeaders: the page is served with a Content-Security-Policy that
// allows no inline script or style, and its files need none.
func checkHeaders(t *testing.T, base string) {
	t.Helper()
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "https://*.tile.openstreetmap.org"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
}

package influx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/reading"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"s1", true},
		{"with space, comma=equals \"quote\" ${x}", true},
		{"北京-01", true},
		{"", false},
		{`back\slash`, false},
		{"new\nline", false},
		{"tab\t", false},
		{"nul\x00", false},
		{"\xff", false},
		{strings.Repeat("x", maxName), true},
		{strings.Repeat("x", maxName+1), false},
	}
	for _, tt := range tests {
		if err := checkName("station", tt.name); (err == nil) != tt.ok {
			t.Errorf("checkName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestLineProtocol(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	tests := []struct {
		name string
		rs   []reading.Reading
		want string
	}{
		{"none", nil, ""},
		{
			"simple",
			[]reading.Reading{{Point: "p1", Station: "s1", Medium: reading.Air, Time: at, Values: []reading.Value{{Metric: "pm25", Value: 12.5, QC: reading.FlagRange | reading.FlagSpike}, {Metric: "co", Value: 0.4}}}},
			`air,point=p1,station=s1 pm25=12.5,co=0.4,qc="{\"pm25\":\"range,spike\"}" 1700000000123456789` + "\n",
		},
		{
			"escaped",
			[]reading.Reading{{Point: "a b", Station: "x,y=z", Medium: "m ,=", Time: at, Values: []reading.Value{{Metric: "f=1 ,", Value: 1}}}},
			`m\ \,=,point=a\ b,station=x\,y\=z f\=1\ \,=1,qc="" 1700000000123456789` + "\n",
		},
		{
			"no point",
			[]reading.Reading{{Station: "s1", Medium: reading.Noise, Time: at, Values: []reading.Value{{Metric: "laeq", Value: 55}}}},
			`noise,station=s1 laeq=55,qc="" 1700000000123456789` + "\n",
		},
		{
			"no values",
			[]reading.Reading{{Station: "s1", Medium: reading.Noise, Time: at}},
			"",
		},
		{
			"duplicate metric",
			[]reading.Reading{{Station: "s1", Medium: reading.Water, Time: at, Values: []reading.Value{{Metric: "ph", Value: 7}, {Metric: "do", Value: 8}, {Metric: "ph", Value: 7.5, QC: reading.FlagStuck}}}},
			`water,station=s1 do=8,ph=7.5,qc="{\"ph\":\"stuck\"}" 1700000000123456789` + "\n",
		},
		{
			"flagged odd name",
			[]reading.Reading{{Station: "s1", Medium: reading.Air, Time: at, Values: []reading.Value{{Metric: `a "b", c=d`, Value: 1, QC: reading.FlagDuplicate}, {Metric: "pm10", Value: 2, QC: reading.FlagPast}, {Metric: "pm10", Value: 3}}}},
			`air,station=s1 a\ "b"\,\ c\=d=1,pm10=3,qc="{\"a \\\"b\\\", c=d\":\"duplicate\"}" 1700000000123456789` + "\n",
		},
		{
			"floats",
			[]reading.Reading{{Station: "s1", Medium: reading.Water, Time: time.Unix(0, -5), Values: []reading.Value{{Metric: "a", Value: 1e21}, {Metric: "b", Value: -1e-7}, {Metric: "c", Value: 0.1}}}},
			`water,station=s1 a=1e+21,b=-1e-07,c=0.1,qc="" -5` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lineProtocol(tt.rs)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	const token = "hunter2"
	cfg := Config{URL: "http://localhost:8086", Token: secret.New(token)}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "token", cfg.Token, "cfg", cfg)
	outputs := []string{
		fmt.Sprint(cfg.Token),
		fmt.Sprintf("%s %v %q %x %d %#v %+v", cfg.Token, cfg.Token, cfg.Token, cfg.Token, cfg.Token, cfg.Token, cfg),
		fmt.Sprintf("%#v", cfg),
		cfg.Token.String(),
		string(j),
		logged.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, token) {
			t.Errorf("the token shows in %s", out)
		}
		if !strings.Contains(out, "secret") { // JSON escapes <>
			t.Errorf("<secret> is not in %s", out)
		}
	}
	// A Config held in an unexported field, where fmt cannot call the
	// token's methods, prints an address.
	if out := fmt.Sprintf("%+v %#v", struct{ cfg Config }{cfg}, struct{ cfg Config }{cfg}); strings.Contains(out, token) {
		t.Errorf("the token shows in %s", out)
	}
	if cfg.Token.Reveal() != token {
		t.Errorf("Token.Reveal() = %q, want the token", cfg.Token.Reveal())
	}
}

func TestRedact(t *testing.T) {
	s := &Store{cfg: Config{Token: secret.New("user:hunter2")}}
	base := errors.New(`server said: bad token "user:hunter2"`)
	err := s.wrap(t.Context(), "write", base)
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the token: %v", err)
	}
	if !errors.Is(err, base) {
		t.Errorf("the redacted error does not wrap the original")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{URL: "http://localhost:8086", Org: "-", Bucket: "envmon/autogen", LatestWindow: time.Hour, Timeout: time.Second}
	tests := []struct {
		name string
		edit func(c *Config)
		ok   bool
	}{
		{"good", func(c *Config) {}, true},
		{"https", func(c *Config) { c.URL = "https://influx.example:8086/prefix" }, true},
		{"no url", func(c *Config) { c.URL = "" }, false},
		{"no host", func(c *Config) { c.URL = "http://" }, false},
		{"bad scheme", func(c *Config) { c.URL = "localhost:8086" }, false},
		{"user in url", func(c *Config) { c.URL = "http://u:p@localhost:8086" }, false},
		{"unparsable url with user", func(c *Config) { c.URL = "http://u:p@localhost:port" }, false},
		{"no org", func(c *Config) { c.Org = "" }, false},
		{"no bucket", func(c *Config) { c.Bucket = "" }, false},
		{"negative window", func(c *Config) { c.LatestWindow = -time.Hour }, false},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, false},
	}
	for _, tt := range tests {
		c := good
		tt.edit(&c)
		err := c.validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
	}
}

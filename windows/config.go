package windows

import (
	"fmt"
	"log/slog"
	"time"
)

// DefaultZone is the time zone of a station whose caller gives none: the
// deployment's default, China Standard Time.
const DefaultZone = "Asia/Shanghai"

// Defaults of Config.
const (
	DefaultRetention = 72 * time.Hour
	DefaultMaxFuture = time.Hour
	DefaultMaxGap    = 15 * time.Minute
	// MinRetention is the least retention allowed: the 24 h means of the
	// day before yesterday must still be answerable.
	MinRetention = 72 * time.Hour
)

// Config configures Windows. The zero value is usable.
type Config struct {
	// Retention is how far back hours are kept, counted from Now. Older
	// hours are dropped and older readings ignored. At least MinRetention;
	// DefaultRetention when zero.
	Retention time.Duration
	// MaxFuture is how far ahead of Now a reading may be; later ones are
	// ignored. DefaultMaxFuture when zero.
	MaxFuture time.Duration
	// MaxGap caps the time one sample stands for when coverage is
	// measured, between 1 min and 1 h; DefaultMaxGap when zero.
	MaxGap time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Location gives a station's time zone when Add is given none, and
	// for Rebuild. When nil, or when it returns nil, DefaultZone is used.
	Location func(station string) *time.Location
	// Logger logs; slog.Default when nil.
	Logger *slog.Logger
}

// Validate reports the first invalid setting, naming its key.
func (c Config) Validate() error {
	if c.Retention != 0 && c.Retention < MinRetention {
		return fmt.Errorf("windows.retention: %v is below the minimum %v", c.Retention, MinRetention)
	}
	if c.MaxFuture < 0 {
		return fmt.Errorf("windows.max_future: %v is negative", c.MaxFuture)
	}
	if c.MaxGap != 0 && (c.MaxGap < time.Minute || c.MaxGap > time.Hour) {
		return fmt.Errorf("windows.max_gap: %v is outside 1m-1h", c.MaxGap)
	}
	return nil
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.MaxGap == 0 {
		c.MaxGap = DefaultMaxGap
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def, err := time.LoadLocation(DefaultZone)
	if err != nil {
		return c, fmt.Errorf("windows: load default zone: %w", err)
	}
	get := c.Location
	c.Location = func(station string) *time.Location {
		if get != nil {
			if l := get(station); l != nil {
				return l
			}
		}
		return def
	}
	return c, nil
}

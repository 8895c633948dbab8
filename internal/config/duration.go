package config

import (
	"fmt"
	"time"
)

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 5s", s)
	}
	return d, nil
}

// SchedulerInterval is the parsed scheduler interval.
func (c *Config) SchedulerInterval() time.Duration {
	d, _ := parseDuration(c.Scheduler.Interval)
	return d
}

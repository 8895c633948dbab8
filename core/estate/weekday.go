package estate

import "time"

func timeWeekday(n int) time.Weekday { return time.Weekday(n) }

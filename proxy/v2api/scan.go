package v2api

import (
	"strconv"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// scanPage returns the page lp asks for and the total, from v3 pages that
// fetch reads. Without local filters it is one v3 page of the same size;
// with filters v3 cannot express (name>=x, type>=x, ...; MAPPING §3.3)
// every v3 match is read, kept when keep says so, then paged, at most
// limit resources, past which the client is told to narrow its query.
func scanPage[T any](lp translate.ListParams, local bool, limit int, what, narrow string,
	fetch func(page, perPage int) (ccv3.Page[T], error), keep func(T) bool) ([]T, int, error) {
	return scanSorted(lp, local, limit, what, narrow, fetch, keep, nil)
}

// scanSorted is scanPage that, scanning, puts what it keeps in order
// before it pages (nil keeps v3's order).
func scanSorted[T any](lp translate.ListParams, local bool, limit int, what, narrow string,
	fetch func(page, perPage int) (ccv3.Page[T], error), keep func(T) bool, order func([]T)) ([]T, int, error) {
	if !local {
		page, err := fetch(lp.Page, lp.ResultsPerPage)
		if err != nil {
			return nil, 0, err
		}
		return page.Resources, page.Pagination.TotalResults, nil
	}
	perPage := min(5000, limit) // v3's largest page
	var all []T
	for p := 1; ; p++ {
		page, err := fetch(p, perPage)
		if err != nil {
			return nil, 0, err
		}
		for _, r := range page.Resources {
			if keep(r) {
				all = append(all, r)
			}
		}
		if p >= page.Pagination.TotalPages || len(page.Resources) == 0 {
			break
		}
		if p*perPage >= limit {
			return nil, 0, translate.BadQueryParameter("the filter needs more than " + strconv.Itoa(limit) + " " + what + " read; narrow it with " + narrow)
		}
	}
	if order != nil {
		order(all)
	}
	start := min(lp.Offset(), len(all))
	return all[start:min(start+lp.ResultsPerPage, len(all))], len(all), nil
}

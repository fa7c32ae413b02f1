/* export: placeholder until the folded and pprof writers land. */
#include <errno.h>
#include "export.h"

int export_folded(FILE *f, const struct report_meta *m, const struct query_result *r,
		  const struct store *s, struct symbolizer *sym)
{
	return -ENOSYS;
}

int export_pprof(FILE *f, const struct report_meta *m, const struct query_result *r,
		 const struct store *s, struct symbolizer *sym)
{
	return -ENOSYS;
}

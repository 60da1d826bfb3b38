# Checks shared by the TAP tests of the pipeline (local and S3 storage).
package PgDesChecks;
use strict;
use warnings;
use Test::More;
use Exporter 'import';
our @EXPORT = qw(blobs_match_archives);

# every blob records its entry's offset, stored size and flags as the
# index of its container has them
sub blobs_match_archives
{
	my ($node, $what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.blobs)
		     = (SELECT count(*) FROM des.containers c CROSS JOIN LATERAL des.archive_list(c.location) l
		          JOIN des.blobs b ON b.container_id = c.id AND b.entry = l.name
		         WHERE l.data_offset = b.data_offset AND l.flags = b.flags AND (b.flags <> 0 OR l.size = b.stored_size))}),
		't', "$what: every blob records its entry's offset, stored size and flags as the archive's index has them");
	return;
}

1;

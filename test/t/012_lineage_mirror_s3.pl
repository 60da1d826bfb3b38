# The lineage mirror on S3 storage (the test harness: s3rver behind a proxy
# that verifies every SigV4 signature): with des.lineage_mirror on and
# des.storage an s3:// URL, the trigger dispatcher writes the audit records
# as objects (dependency/{repo}/{branch}/{day}/metadata/{day}.json and
# downstreams/{repo%2Fbranch}), read back here with Debian's awscli.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Temp qw(tempdir);

if (system('curl -sf -o /dev/null http://127.0.0.1:59001/__control/stats') != 0)
{
	plan skip_all => 'the S3 test harness is not running on 127.0.0.1:59001 (test/s3/start.sh)';
}
if (system('command -v aws >/dev/null 2>&1') != 0)
{
	plan skip_all => 'awscli is not installed (tools/deps.sh installs it)';
}

my $prefix = 'mirror-' . $$ . '-' . time();
my $node = PostgreSQL::Test::Cluster->new('mirror_s3');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.storage = 's3://pgdes-test/$prefix'
des.storage_server = 'lake'
des.default_server = 'lake'
des.markers = 0
des.packers = 0
des.dispatchers = 1
des.lineage_mirror = on
));
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_des;
	CREATE SERVER lake FOREIGN DATA WRAPPER des_fdw
	  OPTIONS (endpoint 'http://127.0.0.1:59001', region 'us-east-1', url_style 'path', allow_http 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER lake
	  OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
});

# awscli against the harness, path-style, with the test credentials
my $aws_dir = tempdir(CLEANUP => 1);
open(my $cfg, '>', "$aws_dir/config") or die;
print $cfg "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n";
close $cfg;
$ENV{AWS_CONFIG_FILE} = "$aws_dir/config";
$ENV{AWS_ACCESS_KEY_ID} = 'pgdes-test-key';
$ENV{AWS_SECRET_ACCESS_KEY} = 'pgdes-test-secret';
sub s3_get
{
	my ($key) = @_;
	my $out = `aws --endpoint-url http://127.0.0.1:59001 s3 cp 's3://pgdes-test/$prefix/$key' - 2>/dev/null`;
	return $? == 0 ? $out : undef;
}

# a version, and a run that reads it and commits another
$node->safe_psql('postgres', q{
	SELECT des.repo_create('raw');
	SELECT des.repo_create('clean');
	SELECT des.stage('raw', 'main', 'sales.csv', 'day,amount');
	SELECT des.commit('raw', 'main', 'raw 1');
	SELECT des.run_begin('clean-job');
	SELECT count(*) FROM des.files('gros://raw:latest');
	SELECT des.stage('clean', 'main', 'sales.csv', 'cleaned');
	SELECT des.commit('clean', 'main', 'clean 1');
	SELECT des.run_end();});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM des.lineage_mirror_queue}),
	'the dispatcher wrote the queued days');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.lineage_mirror_queue WHERE last_error IS NOT NULL}), '0',
	'without an error');
my $day = $node->safe_psql('postgres', q{SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')});
my $raw = $node->safe_psql('postgres', q{SELECT bundle_id FROM des.resolve('gros://raw')});
my $clean = $node->safe_psql('postgres', q{SELECT bundle_id FROM des.resolve('gros://clean')});

my $meta = s3_get("dependency/raw/main/$day/metadata/$day.json");
ok(defined $meta, "dependency/raw/main/$day/metadata/$day.json is an object in the bucket");
like($meta // '', qr/"gros_ref": "gros:\/\/raw\/main:$raw"/, 'it names raw\'s version of the day');
like($meta // '', qr/"downstreams": \[.*"gros_ref": "gros:\/\/clean\/main:$clean"/s, 'and its downstream');
my $down = s3_get("dependency/raw/main/$day/downstreams/clean%2Fmain");
like($down // '', qr/"job": "clean-job"/, 'the downstream object clean%2Fmain names the job');
like(s3_get("dependency/clean/main/$day/metadata/$day.json") // '', qr/"upstreams": \[.*"gros_ref": "gros:\/\/raw\/main:$raw"/s,
	'clean\'s metadata names its upstream');
# the listing through pg_des itself: only whole objects (no temporary key)
is($node->safe_psql('postgres', qq{
	SELECT string_agg(substr(location, length('s3://pgdes-test/$prefix/dependency/') + 1), ' ' ORDER BY location)
	  FROM des.storage_list('s3://pgdes-test/$prefix/dependency/') WHERE NOT is_prefix}),
	"clean/main/$day/metadata/$day.json raw/main/$day/downstreams/clean%2Fmain raw/main/$day/metadata/$day.json",
	'the bucket holds exactly the three objects');

$node->stop;
done_testing();

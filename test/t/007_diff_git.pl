# des.diff against git: the same sequence of trees (files added, edited,
# removed, made executable, directories removed, a file replaced by a
# directory) committed both as bundles and as git commits; for pairs of
# versions, des.diff's file rows must equal `git diff --name-status`.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use MIME::Base64;
use Digest::MD5 qw(md5_hex);

# git is part of the machine the README starts from (tools/deps.sh checks it)
system('git --version >/dev/null 2>&1') == 0 or BAIL_OUT('git is not installed');

my $node = PostgreSQL::Test::Cluster->new('diffgit');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_des'\ndes.workers = off");
$node->start;
$node->safe_psql('postgres', "CREATE EXTENSION pg_des; SELECT des.repo_create('g', 'diff against git')");

my $work = tempdir(CLEANUP => 1);
sub run_git { my $out = `cd $work && git @_ 2>&1`; die "git @_: $out" if $?; return $out; }
run_git('init -q');
run_git('config user.email t@example.invalid');
run_git('config user.name t');
run_git('config core.fileMode true');

srand(20261207);
my %files;    # path -> [content, mode]
my (@bundles, @commits);

sub random_content { my $n = int(rand(3000)); return join('', map { chr(32 + int(rand(90))) } 1 .. $n); }
sub random_path
{
	my @dirs = ('', 'a/', 'a/b/', 'c/', 'c/d/e/', 'f g/');
	return $dirs[int(rand(@dirs))] . 'file' . int(rand(12)) . (rand() < 0.5 ? '.txt' : '');
}

# a path is free for a file when no file is a prefix of it and it is no directory
sub can_put
{
	my ($path) = @_;
	my @seg = split m{/}, $path;
	for my $i (1 .. $#seg) { return 0 if exists $files{ join('/', @seg[0 .. $i - 1]) }; }
	return !grep { index($_, "$path/") == 0 } keys %files;
}

for my $version (1 .. 12)
{
	my (@puts, @removes);
	my @committed = keys %files;
	for (1 .. 1 + int(rand(8)))
	{
		my $r = rand();
		my @existing = sort keys %files;
		if ($r < 0.45 || !@existing)
		{
			my $p = random_path();
			next unless can_put($p);
			$files{$p} = [ random_content(), rand() < 0.2 ? 0755 : 0644 ];
			push @puts, $p;
		}
		elsif ($r < 0.65)
		{
			my $p = $existing[ int(rand(@existing)) ];
			$files{$p}[0] = random_content();
			push @puts, $p;
		}
		elsif ($r < 0.75)
		{
			my $p = $existing[ int(rand(@existing)) ];
			$files{$p}[1] = $files{$p}[1] == 0755 ? 0644 : 0755;
			push @puts, $p;
		}
		elsif ($r < 0.9)
		{
			my $p = $existing[ int(rand(@existing)) ];
			delete $files{$p};
			@puts = grep { $_ ne $p } @puts;
			push @removes, $p;
		}
		else
		{
			# a whole directory goes
			my ($d) = grep { m{/} } @existing or next;
			$d =~ s{/[^/]*$}{};
			for my $p (grep { index($_, "$d/") == 0 } keys %files) { delete $files{$p}; }
			@puts = grep { index($_, "$d/") != 0 } @puts;
			push @removes, $d;
		}
	}
	# a file replaced by a directory of the same name, once
	if ($version == 7 && exists $files{'a/b/file1.txt'} || $version == 7 && can_put('a/b/file1.txt/inner'))
	{
		if (exists $files{'a/b/file1.txt'}) { delete $files{'a/b/file1.txt'}; push @removes, 'a/b/file1.txt'; }
		@puts = grep { $_ ne 'a/b/file1.txt' } @puts;
		if (can_put('a/b/file1.txt/inner')) { $files{'a/b/file1.txt/inner'} = [ 'inner', 0644 ]; push @puts, 'a/b/file1.txt/inner'; }
	}
	my %seen;
	@puts = grep { exists $files{$_} && !$seen{$_}++ } @puts;
	# only what the last version has can be removed (a file staged in this
	# version and removed again is simply not put)
	@removes = grep {
		my $r = $_;
		!$seen{$r}++ && grep { $_ eq $r || index($_, "$r/") == 0 } @committed
	} @removes;
	next unless @puts || @removes;

	# the bundle: removals, then puts
	my $sql = '';
	for my $p (@removes)
	{
		(my $q = $p) =~ s/'/''/g;
		$sql .= "SELECT des.stage_remove('g', 'main', '$q');\n";
	}
	for my $p (@puts)
	{
		(my $q = $p) =~ s/'/''/g;
		my $b64 = encode_base64($files{$p}[0], '');
		$sql .= "SELECT des.stage('g', 'main', '$q', decode('$b64', 'base64'), $files{$p}[1]);\n";
	}
	$node->safe_psql('postgres', $sql);
	push @bundles, $node->safe_psql('postgres', "SELECT des.commit('g', 'main', 'version $version')");

	# the git commit: the same tree, written out whole
	remove_tree(grep { !m{/\.git$} } glob("$work/* $work/.[!.]*"));
	for my $p (keys %files)
	{
		my $full = "$work/$p";
		(my $dir = $full) =~ s{/[^/]*$}{};
		make_path($dir);
		open(my $fh, '>:raw', $full) or die "$full: $!";
		print $fh $files{$p}[0];
		close($fh);
		chmod($files{$p}[1], $full);
	}
	run_git('add -A');
	run_git("commit -q --allow-empty -m v$version");
	chomp(my $c = run_git('rev-parse HEAD'));
	push @commits, $c;
}

cmp_ok(scalar(@bundles), '>=', 8, 'a sequence of versions was committed');

# every file of the last version reads back as git has it
my $listed = $node->safe_psql('postgres',
	"SELECT string_agg(path || ' ' || to_char(mode, 'FM999') || ' ' || md5(des.read('g/main', path)), E'\\n' ORDER BY path) FROM des.files('g/main') WHERE kind = 'file'");
my @expect;
for my $p (sort keys %files)
{
	push @expect, "$p $files{$p}[1] " . md5_hex($files{$p}[0]);
}
is($listed, join("\n", @expect), 'the last version lists and reads back every file with its mode and bytes');

my %map = (added => 'A', removed => 'D', modified => 'M', mode => 'M');
my $pairs = 0;
for my $i (0 .. $#bundles)
{
	for my $j ($i + 1 .. $#bundles)
	{
		next unless $j == $i + 1 || ($i + $j) % 3 == 0;    # neighbours, and a spread of farther pairs
		my $theirs = run_git("diff --name-status --no-renames $commits[$i] $commits[$j]");
		$theirs = join("\n", sort split /\n/, $theirs);
		my $ours = $node->safe_psql('postgres',
			"SELECT change, path FROM des.diff('$bundles[$i]', '$bundles[$j]') WHERE kind = 'file'");
		$ours = join("\n", sort map { my ($c, $p) = split /\|/, $_, 2; "$map{$c}\t$p" } split /\n/, $ours);
		is($ours, $theirs, "des.diff of versions $i and $j equals git diff --name-status");
		$pairs++;
	}
}
cmp_ok($pairs, '>=', 15, 'enough pairs compared');
is($node->safe_psql('postgres', "SELECT count(*) FROM des.diff('g/main', 'g/main')"), '0', 'a version has no diff with itself');

$node->stop;
done_testing();

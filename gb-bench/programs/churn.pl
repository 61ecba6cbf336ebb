# gb-bench's Perl workload (program `perl`): churn.lua's algorithm with
# Perl's containers (sprintf, join and split, arrays of array refs, a hash
# filled and a third of it deleted, a ring of kept rounds): the same checksum
# as churn.lua for the same ROUNDS, which gb-bench checks.
# Usage: perl churn.pl ROUNDS (prints "checksum N")
use strict;
use warnings;

my $rounds = shift @ARGV;
my @keep;
my $sum = 0;
for my $r (1 .. $rounds) {
    my @parts = map { sprintf('%d:%s', $_ * $r, 'x' x (($_ * 7 + $r) % 48)) } 1 .. 400;
    my $text = join(',', @parts);
    my @fields = map { [$_, length $_] } grep { length } split /,/, $text;
    my %index;
    $index{ $fields[$_ - 1][0] } = $_ for 1 .. @fields;
    for (my $i = 0; $i < @fields; $i += 3) { delete $index{ $fields[$i][0] } }
    my $n = 0;
    $n += $_ for values %index;
    $sum = ($sum + $n + length $text) % 1000000007;
    $keep[$r % 97] = \@fields;
}
print "checksum $sum\n";

#!/usr/bin/perl
use strict;
use warnings;

my %seen;
my $count = 0;
while (my $line = <STDIN>) {
    chomp $line;
    next if $seen{$line}++;
    print "$line\n";
    $count++;
}

sub report {
    my ($n) = @_;
    printf STDERR "%d unique lines\n", $n;
}

report($count);

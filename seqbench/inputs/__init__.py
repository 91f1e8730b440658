"""Input formats read by more than one experiment: delimited tables with checked columns
(:mod:`.tables`), the CRISPRi screens of Fulco and Gasperini (:mod:`.crispri`), and GenBank
plasmids with their landing pads (:mod:`.plasmids`).  Nothing here knows an experiment."""
